import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/**
 * A real Redis Cluster of three masters on free loopback ports, for tests: started with
 * `cluster-require-full-coverage no` (as the README tells operators), so a stopped master costs
 * only its own slots. `stop(i)` / `start(i)` stop and restart one master with its cluster state.
 */
export interface TestRedisCluster {
  ports: number[];
  /** `REDIS_CLUSTER_NODES` for the service. */
  nodes: string;
  stop(index: number): Promise<void>;
  start(index: number): Promise<void>;
  /** The port of the master serving `key` (CLUSTER KEYSLOT + CLUSTER SLOTS). */
  portOfKey(key: string): Promise<number>;
  /** The same for many keys, with one slot map. */
  portsOfKeys(keys: readonly string[]): Promise<number[]>;
  close(): Promise<void>;
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Ports P whose cluster bus port P + 10000 is free too. */
async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    if (!ports.includes(port) && (await isFree(port)) && (await isFree(port + 10000))) ports.push(port);
  }
  return ports;
}

const cli = (port: number, ...args: string[]) => run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]).then((r) => r.stdout.trim());

export async function startRedisCluster(): Promise<TestRedisCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'relaycfg-cluster-'));
  const ports = await freePorts(3);
  const startNode = async (port: number) => {
    const nodeDir = path.join(dir, String(port));
    await run('mkdir', ['-p', nodeDir]);
    await run('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', path.join(nodeDir, 'nodes.conf'),
      '--cluster-require-full-coverage', 'no', '--cluster-node-timeout', '2000', '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--dir', nodeDir,
      '--maxmemory-policy', 'noeviction',
    ]);
    for (let i = 0; i < 100; i++) {
      if ((await cli(port, 'PING').catch(() => '')) === 'PONG') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on ${port} did not start`);
  };
  const waitOk = async () => {
    for (let i = 0; i < 200; i++) {
      const states = await Promise.all(ports.map((p) => cli(p, 'CLUSTER', 'INFO').catch(() => '')));
      if (states.every((s) => s.includes('cluster_state:ok'))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the test cluster did not reach cluster_state:ok');
  };
  const stopNode = async (port: number): Promise<void> => {
    await cli(port, 'SHUTDOWN', 'NOSAVE').catch(() => undefined);
  };
  try {
    await Promise.all(ports.map(startNode));
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    await waitOk();
  } catch (error) {
    await Promise.all(ports.map(stopNode));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  async function portsOfKeys(keys: readonly string[]): Promise<number[]> {
    // Asks a node that is up (one may be stopped by the test).
    for (const port of ports) {
      const node = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await node.connect();
        const ranges = (await node.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
        const slots = await Promise.all(keys.map((k) => node.call('CLUSTER', 'KEYSLOT', k) as Promise<number>));
        return slots.map((slot) => {
          const range = ranges.find(([from, to]) => slot >= from && slot <= to);
          if (!range) throw new Error(`no node serves slot ${slot}`);
          return Number(range[2][1]);
        });
      } catch {
        continue;
      } finally {
        node.disconnect();
      }
    }
    throw new Error('no node of the test cluster answers');
  }

  return {
    ports,
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
    stop: (index) => stopNode(ports[index]),
    async start(index) {
      await startNode(ports[index]);
      await waitOk();
    },
    portOfKey: async (key) => (await portsOfKeys([key]))[0],
    portsOfKeys,
    async close() {
      await Promise.all(ports.map(stopNode));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
