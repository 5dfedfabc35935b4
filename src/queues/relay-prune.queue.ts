import type { ConnectionOptions, Queue } from 'bullmq';
import { createQueue } from './names';

/** Removes registered relays that have not registered again for `RELAY_PRUNE_AFTER_DAYS`. */
export const RELAY_PRUNE_QUEUE = 'relay-prune';

/** One scheduler for the whole fleet: upserting it again (every worker at start) changes nothing. */
export const RELAY_PRUNE_SCHEDULER = 'prune-relays';
export const RELAY_PRUNE_EVERY_MS = 3600_000;

export type RelayPruneJobData = Record<string, never>;

export type RelayPruneQueue = Queue<RelayPruneJobData, void, 'prune-relays'>;

export function createRelayPruneQueue(connection: ConnectionOptions, prefix: string): RelayPruneQueue {
  return createQueue<RelayPruneJobData, 'prune-relays'>(RELAY_PRUNE_QUEUE, connection, prefix, { attempts: 3, backoffMs: 10_000, keepFailedS: 7 * 24 * 3600 });
}

/** Runs the prune every hour (Relays re-register every 10 minutes, so an hour's lag is nothing). */
export async function scheduleRelayPrune(queue: RelayPruneQueue): Promise<void> {
  await queue.upsertJobScheduler(RELAY_PRUNE_SCHEDULER, { every: RELAY_PRUNE_EVERY_MS }, { name: 'prune-relays', data: {} });
}
