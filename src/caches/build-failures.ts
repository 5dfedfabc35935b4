import type { RedisLayout } from './layout';
import type { RedisClient } from './redis';

/**
 * The last failed build of each key (`configs status`: "why is this key pending?"), beside its
 * config in Redis, for a week. Written by the build processor; a successful build leaves it so
 * the operator still sees what happened last (`configs status` compares the times).
 */
export interface BuildFailure {
  reason: string;
  message: string;
  /** Failed builds (or build job attempts) of this key recorded in the last week. */
  attempts: number;
  at: string;
}

export interface BuildFailureLog {
  record(publicKeys: readonly string[], failure: { reason: string; message: string }): Promise<void>;
  get(publicKey: string): Promise<BuildFailure | null>;
}

const KEEP_S = 7 * 24 * 3600;

export function createBuildFailureLog(redis: RedisClient, layout: RedisLayout): BuildFailureLog {
  return {
    async record(publicKeys, failure) {
      if (publicKeys.length === 0) return;
      const previous = await redis.mget(publicKeys.map((k) => layout.buildFailure(k)));
      const at = new Date().toISOString();
      const pipeline = redis.pipeline();
      publicKeys.forEach((publicKey, i) => {
        const attempts = (parse(previous[i] ?? null)?.attempts ?? 0) + 1;
        pipeline.set(layout.buildFailure(publicKey), JSON.stringify({ reason: failure.reason, message: failure.message.slice(0, 2000), attempts, at }), 'EX', KEEP_S);
      });
      await pipeline.exec();
    },
    async get(publicKey) {
      return parse(await redis.get(layout.buildFailure(publicKey)));
    },
  };
}

function parse(value: string | null): BuildFailure | null {
  if (!value) return null;
  try {
    return JSON.parse(value) as BuildFailure;
  } catch {
    return null;
  }
}
