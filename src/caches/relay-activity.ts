import type { RedisLayout } from './layout';
import type { RedisClient } from './redis';

/**
 * When each relay last fetched configs, for `relays list`: one Redis hash, written at most once
 * per relay every `everyMs` by each process and never awaited by the request (a lost write only
 * makes the time older; PostgreSQL is not touched per request).
 */
export interface RelayActivity {
  /** `internalBy`: the rule that made the relay internal on this fetch (null: none). */
  noteConfigFetch(relayId: string, internalBy: string | null): void;
  lastConfigFetches(relayIds: readonly string[]): Promise<Map<string, ConfigFetch>>;
}

export interface ConfigFetch {
  at: Date;
  internalBy: string | null;
}

export function createRelayActivity(redis: RedisClient, layout: RedisLayout, everyMs = 30_000): RelayActivity {
  const hash = layout.relayLastConfigFetch;
  const written = new Map<string, number>();
  return {
    noteConfigFetch(relayId, internalBy) {
      const now = Date.now();
      // A change of classification is written at once, whatever the pace.
      const seen = `${relayId}:${internalBy ?? ''}`;
      if ((written.get(seen) ?? 0) > now - everyMs) return;
      if (written.size >= 10_000) written.clear();
      written.set(seen, now);
      redis.hset(hash, relayId, JSON.stringify({ at: new Date(now).toISOString(), internalBy })).catch(() => written.delete(seen));
    },
    async lastConfigFetches(relayIds) {
      const found = new Map<string, ConfigFetch>();
      if (relayIds.length === 0) return found;
      const values = await redis.hmget(hash, ...relayIds);
      relayIds.forEach((relayId, i) => {
        const value = values[i];
        if (!value) return;
        try {
          const parsed = JSON.parse(value) as { at?: unknown; internalBy?: unknown };
          if (typeof parsed.at === 'string') found.set(relayId, { at: new Date(parsed.at), internalBy: typeof parsed.internalBy === 'string' ? parsed.internalBy : null });
        } catch {
          // a value this version did not write: left out
        }
      });
      return found;
    },
  };
}
