import type { RedisLayout } from './layout';
import { scanNodes, type RedisClient } from './redis';

/**
 * What the recompute-all job needs from Redis beside the config cache: the format stamp of the
 * cached configs and a walk over every cached config key. Read-only towards the configs: writes
 * go through the config cache's `writeIfCurrent` like any other recomputation.
 */
export interface CachedConfigScan {
  /** The `CONFIG_FORMAT` stamped when the cached configs were last recomputed; null before any. */
  storedFormat(): Promise<number | null>;
  storeFormat(format: number): Promise<void>;
  /**
   * One SCAN step over the config keys: the public keys found and the cursor of the next step
   * ('0' when done). A key may come twice and a key written during the walk may be missed (SCAN's
   * guarantees); every key cached for the whole walk comes at least once.
   */
  scanConfigKeys(cursor: string, count: number): Promise<{ cursor: string; publicKeys: string[] }>;
}

export function createCachedConfigScan(redis: RedisClient, layout: RedisLayout): CachedConfigScan {
  return {
    async storedFormat() {
      const text = await redis.get(layout.configFormat);
      const format = text === null ? NaN : Number(text);
      return Number.isInteger(format) ? format : null;
    },
    async storeFormat(format) {
      await redis.set(layout.configFormat, String(format));
    },
    async scanConfigKeys(cursor, count) {
      // One cursor over every master: `<node index>:<that node's cursor>`; '0' starts and ends.
      const nodes = scanNodes(redis);
      const [nodeText, nodeCursor] = cursor.includes(':') ? cursor.split(':') : ['0', cursor];
      const index = Number(nodeText);
      const node = nodes[index];
      if (!node) return { cursor: '0', publicKeys: [] };
      const [nodeNext, found] = await node.scan(nodeCursor ?? '0', 'MATCH', layout.configPattern, 'COUNT', count);
      const next = nodeNext !== '0' ? `${index}:${nodeNext}` : index + 1 < nodes.length ? `${index + 1}:0` : '0';
      const publicKeys = new Set<string>();
      for (const key of found) {
        const publicKey = layout.publicKeyOfConfig(key);
        if (publicKey !== null) publicKeys.add(publicKey);
      }
      return { cursor: next, publicKeys: [...publicKeys] };
    },
  };
}
