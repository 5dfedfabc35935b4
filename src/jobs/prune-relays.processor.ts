import type { Job } from 'bullmq';
import type { RelayPruneJobData } from '../queues/relay-prune.queue';
import { pruneRelays } from '../services/relays';
import type { JobDeps } from './deps';

const DAY_MS = 24 * 3600 * 1000;

/** Removes relays not seen for `pruneAfterDays` (Relay re-registers every 10 minutes while it runs). */
export function createPruneRelaysProcessor(deps: JobDeps) {
  return async (job: Job<RelayPruneJobData>): Promise<void> => {
    const { relayPruneAfterDays } = deps.settings;
    if (relayPruneAfterDays === 0) return;
    const cutoff = new Date(Date.now() - relayPruneAfterDays * DAY_MS);
    const removed = await pruneRelays(deps, cutoff);
    if (removed > 0) deps.logger.info({ jobId: job.id, removed, cutoff: cutoff.toISOString() }, 'removed relays that stopped registering');
  };
}
