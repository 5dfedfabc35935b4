import type { Container } from '../../src/container';
import { JOB_KIND_NAMES, jobKind } from '../../src/jobs/registry';

/** Waits until every queue of the job registry has had no waiting, delayed or active job for `quietMs`. */
export async function waitForQueuesToSettle(container: Container, options: { timeoutMs?: number; quietMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let quietSince: number | null = null;
  for (;;) {
    let busy = 0;
    for (const name of JOB_KIND_NAMES) {
      // A scheduled kind always has its next run delayed: only its running or waiting jobs count.
      const states = jobKind(name).repeat ? (['waiting', 'active', 'prioritized'] as const) : (['waiting', 'delayed', 'active', 'prioritized'] as const);
      const counts = await container.queues[name].getJobCounts(...states);
      busy += Object.values(counts).reduce((a, b) => a + b, 0);
    }
    if (busy === 0) {
      quietSince ??= Date.now();
      if (Date.now() - quietSince >= (options.quietMs ?? 300)) return;
    } else {
      quietSince = null;
    }
    if (Date.now() > deadline) throw new Error(`queues still busy (${busy} jobs) after ${options.timeoutMs ?? 30_000} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A config without the fields that differ between two computations of the same rows. */
export function withoutVolatile(config: unknown): unknown {
  if (config === null || typeof config !== 'object') return config;
  const { rev, lastFetch, lastChange, ...rest } = config as Record<string, unknown>;
  void rev;
  void lastFetch;
  void lastChange;
  return rest;
}
