import type { Queue } from 'bullmq';
import { CONFIG_FORMAT } from '../relay-config/project-config';

/**
 * Recompute every cached config in place (builds first, nothing deleted): after an upgrade that
 * changed what configs contain, and for `configs invalidate --all`.
 */
export interface RecomputeAllJobData {
  /** What asked for it: `upgrade` or `cli`. */
  trigger: string;
  /** The `CONFIG_FORMAT` to stamp once every cached config has been recomputed; null stamps nothing. */
  format: number | null;
}

export type RecomputeAllQueue = Queue<RecomputeAllJobData, void, 'recompute-all'>;

/**
 * The job of an upgrade to this format: one id per format, so the workers of a rolling deploy
 * that all find the old stamp enqueue it once (BullMQ ignores an id already queued or running).
 */
export const upgradeJobId = (format: number = CONFIG_FORMAT): string => `config-format-${format}`;
