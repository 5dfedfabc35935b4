import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { RelayPruneJobData } from '../queues/relay-prune.queue';
import { pruneRelays, type RelayServiceDeps } from '../services/relays';

const DAY_MS = 24 * 3600 * 1000;

/** Removes relays not seen for `pruneAfterDays` (Relay re-registers every 10 minutes while it runs). */
export function createPruneRelaysProcessor(deps: RelayServiceDeps & { logger: Logger; pruneAfterDays: number }) {
  return async (job: Job<RelayPruneJobData>): Promise<void> => {
    if (deps.pruneAfterDays === 0) return;
    const cutoff = new Date(Date.now() - deps.pruneAfterDays * DAY_MS);
    const removed = await pruneRelays(deps, cutoff);
    if (removed > 0) deps.logger.info({ jobId: job.id, removed, cutoff: cutoff.toISOString() }, 'removed relays that stopped registering');
  };
}
