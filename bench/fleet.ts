import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import { LAUNCH_ENV, launchRoleOf } from '../src/launch-env';

/** Starting the service from its compiled output as separate processes, and watching their memory. */

export const DIST = path.resolve(__dirname, '..');

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Proc {
  name: string;
  url: string;
  child: ChildProcess;
  output(): string;
  /** Peak resident memory so far (VmHWM), in MB. */
  peakRssMb(): number;
  /** CPU time used so far (user + system), in ms. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/**
 * Runs `node <script>` with env, on top of the environment its role ships with (LAUNCH_ENV, as
 * the Dockerfile, compose and `npm start` set it; the floors, which stand in for the API, get the
 * API's); waits for `<url>/healthz` (or `readyText` on stdout).
 */
export async function startProcess(name: string, script: string, env: NodeJS.ProcessEnv, port: number, args: string[] = [], readyText?: string): Promise<Proc> {
  const launch = LAUNCH_ENV[launchRoleOf(script) ?? 'api'];
  const child = spawn(process.execPath, [path.join(DIST, script), ...args], { env: { ...launch, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}):\n${output}`);
    const ready = readyText ? output.includes(readyText) : await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`${name} did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name,
    url,
    child,
    output: () => output,
    peakRssMb() {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
        return kb / 1024;
      } catch {
        return 0;
      }
    },
    cpuMs() {
      return (child.pid === undefined ? null : processStat(child.pid))?.ms ?? 0;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A fresh database for one benchmark run (dropped afterwards). */
export async function createDatabase(baseUrl: string, name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new URL(baseUrl);
  admin.pathname = '/postgres';
  const run = async (sql: string) => {
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`drop database if exists ${name} with (force)`) };
}

/**
 * A process's command name and CPU time so far (user + system, in ms) from /proc/<pid>/stat: the
 * name is between the first `(` and the last `)`; after it, fields 14 and 15 are utime and stime
 * in clock ticks (100 per second). Null when the process is gone.
 */
function processStat(pid: number): { comm: string; ms: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ms: (Number(fields[11]) + Number(fields[12])) * 10 };
  } catch {
    return null;
  }
}

/**
 * CPU time of every process on the machine, by pid, with its command name: the bench diffs two
 * snapshots to say where a scenario's CPU went (API, workers, PostgreSQL, Redis, the load
 * generator itself, anything else).
 */
export function cpuSnapshot(): Map<number, { comm: string; ms: number }> {
  const snapshot = new Map<number, { comm: string; ms: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = processStat(Number(entry)); // null: it ended between the listing and the read
    if (stat) snapshot.set(Number(entry), stat);
  }
  return snapshot;
}

/** CPU used between two snapshots, grouped by `group(pid, comm)` (processes that ended are not counted). */
export function cpuBetween(before: ReturnType<typeof cpuSnapshot>, after: ReturnType<typeof cpuSnapshot>, group: (pid: number, comm: string) => string): Map<string, number> {
  const totals = new Map<string, number>();
  for (const [pid, { comm, ms }] of after) {
    const used = ms - (before.get(pid)?.ms ?? 0);
    if (used <= 0) continue;
    const name = group(pid, comm);
    totals.set(name, (totals.get(name) ?? 0) + used);
  }
  return totals;
}
