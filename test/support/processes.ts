import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../bench/fleet';

/**
 * Starts the service's roles as separate processes, the way the README tells users to scale
 * out (`npm run start:api`, `npm run start:worker`), and stops them.
 */

export const ROOT = path.resolve(__dirname, '../..');

export interface RoleProcess {
  role: 'api' | 'worker';
  /** Base URL of its HTTP server (API port, or the worker's health/metrics port). */
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL at once (simulates a crash). */
  kill(): Promise<void>;
}

/** Runs `npm run start:<role>` with the given environment and waits until its `/healthz` answers. */
export async function startRole(role: 'api' | 'worker', env: Record<string, string>): Promise<RoleProcess> {
  const port = await freePort();
  const portEnv = role === 'api' ? { PORT: String(port) } : { WORKER_PORT: String(port) };
  // `detached` puts npm and node in their own process group, so kill() reaches the node process.
  const child = spawn('npm', ['run', '-s', `start:${role}`], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', LOG_LEVEL: 'warn', ...env, ...portEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  // 'close' waits until every process holding the output pipes (npm and the node it started) is gone.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${role} exited early (${child.exitCode}):\n${output}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`${role} did not become healthy:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  return {
    role,
    url,
    child,
    output: () => output,
    async stop() {
      signal('SIGTERM');
      return exited;
    },
    async kill() {
      signal('SIGKILL');
      await exited;
    },
  };
}
