import { execFile, execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

/**
 * Private Redis servers on free loopback ports, started and stopped by the tests and the benchmark
 * (test/support re-exports this module): a three-master Redis Cluster, and a single Redis started
 * the same way, so the benchmark compares the two with nobody else's traffic on either.
 */

const run = promisify(execFile);

/**
 * A real Redis Cluster of three masters: started with `cluster-require-full-coverage no` (as the
 * README tells operators), so a stopped master costs only its own slots. `stop(i)` / `start(i)`
 * stop and restart one master with its cluster state.
 */
export interface LocalRedisCluster {
  ports: number[];
  /** `REDIS_CLUSTER_NODES` for the service. */
  nodes: string;
  stop(index: number): Promise<void>;
  start(index: number): Promise<void>;
  /** The port of the master serving `key` (CLUSTER KEYSLOT + CLUSTER SLOTS). */
  portOfKey(key: string): Promise<number>;
  /** The same for many keys, with one slot map. */
  portsOfKeys(keys: readonly string[]): Promise<number[]>;
  /** CPU time the masters have used so far (user + system, summed over the masters), in ms. */
  cpuMs(): Promise<number>;
  /** `used_memory` of each master, in bytes (in the order of `ports`). */
  memoryBytes(): Promise<number[]>;
  close(): Promise<void>;
  /** `close()` for a signal handler: stops every node and removes its files before returning. */
  closeSync(): void;
}

/** The tests' name for it. */
export type TestRedisCluster = LocalRedisCluster;

/** One private Redis (no persistence), configured like a cluster node otherwise. */
export interface LocalRedis {
  port: number;
  /** `REDIS_URL` for the service. */
  url: string;
  /** CPU time the server has used so far (user + system), in ms. */
  cpuMs(): Promise<number>;
  /** Its `used_memory`, in bytes. */
  memoryBytes(): Promise<number>;
  close(): Promise<void>;
  closeSync(): void;
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

/** One numeric field of an INFO section. */
async function infoField(port: number, section: string, name: string): Promise<number> {
  const info = await cli(port, 'INFO', section);
  return Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
}

/** `used_cpu_user + used_cpu_sys` of INFO cpu, in ms. */
async function serverCpuMs(port: number): Promise<number> {
  return ((await infoField(port, 'cpu', 'used_cpu_user')) + (await infoField(port, 'cpu', 'used_cpu_sys'))) * 1000;
}

const serverMemoryBytes = (port: number) => infoField(port, 'memory', 'used_memory');

async function startServer(dir: string, port: number, cluster: boolean): Promise<void> {
  const nodeDir = path.join(dir, String(port));
  await run('mkdir', ['-p', nodeDir]);
  const clusterArgs = cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(nodeDir, 'nodes.conf'), '--cluster-require-full-coverage', 'no', '--cluster-node-timeout', '2000'] : [];
  await run('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', ...clusterArgs,
    '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--dir', nodeDir, '--maxmemory-policy', 'noeviction',
  ]);
  for (let i = 0; i < 100; i++) {
    if ((await cli(port, 'PING').catch(() => '')) === 'PONG') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on ${port} did not start`);
}

async function stopServer(port: number): Promise<void> {
  await cli(port, 'SHUTDOWN', 'NOSAVE').catch(() => undefined);
}

function stopServersSync(ports: readonly number[], dir: string): void {
  for (const port of ports) {
    try {
      execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'SHUTDOWN', 'NOSAVE'], { stdio: 'ignore', timeout: 2000 });
    } catch {
      // Already stopped.
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Starts one private Redis (`redis-server` and `redis-cli` on the PATH). */
export async function startLocalRedis(): Promise<LocalRedis> {
  const dir = await mkdtemp(path.join(tmpdir(), 'relaycfg-redis-'));
  const [port] = await freePorts(1);
  try {
    await startServer(dir, port, false);
  } catch (error) {
    await stopServer(port);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    cpuMs: () => serverCpuMs(port),
    memoryBytes: () => serverMemoryBytes(port),
    async close() {
      await stopServer(port);
      await rm(dir, { recursive: true, force: true });
    },
    closeSync: () => stopServersSync([port], dir),
  };
}

/** Starts three masters (`redis-server` and `redis-cli` on the PATH) and joins them into one cluster. */
export async function startRedisCluster(): Promise<LocalRedisCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'relaycfg-cluster-'));
  const ports = await freePorts(3);
  const waitOk = async () => {
    for (let i = 0; i < 200; i++) {
      const states = await Promise.all(ports.map((p) => cli(p, 'CLUSTER', 'INFO').catch(() => '')));
      if (states.every((s) => s.includes('cluster_state:ok'))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the local cluster did not reach cluster_state:ok');
  };
  try {
    await Promise.all(ports.map((port) => startServer(dir, port, true)));
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    await waitOk();
  } catch (error) {
    await Promise.all(ports.map(stopServer));
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
    throw new Error('no node of the local cluster answers');
  }

  return {
    ports,
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
    stop: (index) => stopServer(ports[index]),
    async start(index) {
      await startServer(dir, ports[index], true);
      await waitOk();
    },
    portOfKey: async (key) => (await portsOfKeys([key]))[0],
    portsOfKeys,
    cpuMs: async () => (await Promise.all(ports.map(serverCpuMs))).reduce((a, c) => a + c, 0),
    memoryBytes: () => Promise.all(ports.map(serverMemoryBytes)),
    async close() {
      await Promise.all(ports.map(stopServer));
      await rm(dir, { recursive: true, force: true });
    },
    closeSync: () => stopServersSync(ports, dir),
  };
}
