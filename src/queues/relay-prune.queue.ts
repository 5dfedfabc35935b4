import type { Queue } from 'bullmq';

/** Removes registered relays that have not registered again for `RELAY_PRUNE_AFTER_DAYS`. */
/** One scheduler for the whole fleet: upserting it again (every worker at start) changes nothing. */
export const RELAY_PRUNE_SCHEDULER = 'prune-relays';
export const RELAY_PRUNE_EVERY_MS = 3600_000;

export type RelayPruneJobData = Record<string, never>;

export type RelayPruneQueue = Queue<RelayPruneJobData, void, 'prune-relays'>;

/** Runs the prune every hour (Relays re-register every 10 minutes, so an hour's lag is nothing). */
export async function scheduleRelayPrune(queue: RelayPruneQueue): Promise<void> {
  await queue.upsertJobScheduler(RELAY_PRUNE_SCHEDULER, { every: RELAY_PRUNE_EVERY_MS }, { name: 'prune-relays', data: {} });
}
