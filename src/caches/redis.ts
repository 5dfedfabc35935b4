import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisClusterNode, Settings } from '../config/settings';

/**
 * Redis connections (the key layout is `layout.ts`). The request path fails fast so an outage
 * becomes a quick 503; workers wait patiently for Redis to come back. With `REDIS_CLUSTER_NODES`
 * every connection is a cluster client with the same two temperaments.
 */

export type { Redis } from 'ioredis';

/** A connection to the single Redis or to the cluster; every cache takes either. */
export type RedisClient = Redis | Cluster;

type ConnectionSettings = Pick<Settings, 'redisUrl' | 'redisClusterNodes'>;

/** Reconnect forever, backing off to one attempt every 500 ms: a Redis that returns is noticed within half a second. */
const retryStrategy = (times: number) => Math.min(times * 100, 500);

export function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as { isCluster?: boolean }).isCluster === true;
}

function clusterClient(nodes: readonly RedisClusterNode[], perNode: RedisOptions, cluster: ClusterOptions): Cluster {
  // Credentials and TLS of the first seed that has them apply to every node (a cluster shares them).
  const credentials = nodes.find((n) => n.password !== undefined || n.username !== undefined);
  return new Cluster(
    nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      // Reads of a config must see the write that released its claim: replicas lag.
      scaleReads: 'master',
      // No auto-pipelining: it routes a script call by its first argument (the key count), not its
      // keys. Without it every command still goes straight to its slot's node, and the commands of
      // a multi-key read are all in flight at once on the per-node connections.
      clusterRetryStrategy: retryStrategy,
      ...cluster,
      redisOptions: {
        ...perNode,
        ...(credentials?.username !== undefined ? { username: credentials.username } : {}),
        ...(credentials?.password !== undefined ? { password: credentials.password } : {}),
        ...(nodes.some((n) => n.tls) ? { tls: {} } : {}),
      },
    },
  );
}

/**
 * GET of many keys on a cluster, in the order of `keys`: an MGET cannot span slots, so the keys
 * are grouped by the node that serves their slot and each group goes as one pipeline (a pipeline
 * may span the slots of one node), all nodes at once — one round trip per node instead of one
 * command written per key. Keys of a slot the client has no node for yet (no slot map) are read
 * one by one and follow ioredis's own routing, and so is a group whose pipeline failed. A key that
 * cannot be read even so rejects the whole call, as a failed MGET would.
 */
export async function clusterGetMany(cluster: Cluster, keys: readonly string[], encoding: 'utf8'): Promise<(string | null)[]>;
export async function clusterGetMany(cluster: Cluster, keys: readonly string[], encoding: 'buffer'): Promise<(Buffer | null)[]>;
export async function clusterGetMany(cluster: Cluster, keys: readonly string[], encoding: 'utf8' | 'buffer'): Promise<(string | Buffer | null)[]> {
  const values: (string | Buffer | null)[] = new Array<string | Buffer | null>(keys.length).fill(null);
  const groups = new Map<string, number[]>();
  const loose: number[] = [];
  keys.forEach((key, index) => {
    const nodes = cluster.slots[calculateSlot(key)] as string[] | undefined;
    if (nodes === undefined || nodes.length === 0) {
      loose.push(index);
      return;
    }
    const group = nodes.join(';');
    const members = groups.get(group);
    if (members) members.push(index);
    else groups.set(group, [index]);
  });
  const get = (key: string) => (encoding === 'buffer' ? cluster.getBuffer(key) : cluster.get(key));
  await Promise.all([
    ...[...groups.values()].map(async (indexes) => {
      const pipeline = cluster.pipeline();
      for (const index of indexes) {
        if (encoding === 'buffer') pipeline.getBuffer(keys[index]);
        else pipeline.get(keys[index]);
      }
      try {
        const replies = (await pipeline.exec()) ?? [];
        if (replies.length !== indexes.length) throw new Error('a cluster pipeline answered fewer replies than it was sent');
        replies.forEach(([error, value], i) => {
          if (error) throw error;
          values[indexes[i]] = value as string | Buffer | null;
        });
      } catch {
        // A pipeline is not re-routed or retried as single commands are (a node that just came
        // back, a slot that moved): read this group one key at a time, which ioredis routes itself.
        await Promise.all(indexes.map(async (index) => (values[index] = await get(keys[index]))));
      }
    }),
    ...loose.map(async (index) => {
      values[index] = await get(keys[index]);
    }),
  ]);
  return values;
}

/**
 * A connection for the API's request path: no offline queue, short timeouts. An unreachable Redis
 * fails at once (refused or reset connections); the command timeout only bounds a Redis that is
 * slow — 2 s, well under Relay's 5 s, and above what a 500-key MGET of full configs needs on a
 * loaded machine.
 */
export function createRequestPathRedis(settings: ConnectionSettings, name: string): RedisClient {
  const options: RedisOptions = {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    connectTimeout: 1000,
    retryStrategy,
  };
  if (settings.redisClusterNodes.length > 0) {
    // A redirect storm or a missing slot gives up after a few tries instead of holding the request.
    return clusterClient(settings.redisClusterNodes, options, { enableOfflineQueue: false, maxRedirections: 4, retryDelayOnClusterDown: 100, retryDelayOnTryAgain: 100, slotsRefreshTimeout: 1000 });
  }
  return new Redis(settings.redisUrl, options);
}

/** A connection for workers and BullMQ: commands wait for Redis to return (BullMQ needs this). */
export function createWorkerRedis(settings: ConnectionSettings, name: string): RedisClient {
  const options: RedisOptions = { connectionName: name, maxRetriesPerRequest: null, connectTimeout: 5000, retryStrategy };
  if (settings.redisClusterNodes.length > 0) return clusterClient(settings.redisClusterNodes, options, { slotsRefreshTimeout: 5000 });
  return new Redis(settings.redisUrl, options);
}

/**
 * True for the errors ioredis raises while Redis (or the part of the cluster a command needs) is
 * unreachable — never for script or type errors, and never for other libraries' socket errors,
 * which the PostgreSQL check classifies.
 */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const message = error.message;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    error.name === 'ClusterAllFailedError' ||
    message.startsWith("Stream isn't writeable") ||
    message.startsWith('Connection is closed') ||
    message === 'Command timed out' ||
    message.startsWith('LOADING') ||
    message.startsWith('MASTERDOWN') ||
    message.startsWith('CLUSTERDOWN') ||
    message.startsWith('TRYAGAIN') ||
    // The redirect loop gave up (a slot moving while a master fails over).
    message.startsWith('MOVED') ||
    message.startsWith('ASK') ||
    message.startsWith('Too many Cluster redirections') ||
    message.startsWith('Failed to refresh slots cache') ||
    message.startsWith('None of startup nodes is available') ||
    message.startsWith("Cluster isn't ready")
  );
}

/**
 * Deletes every key under a prefix (tests and benchmark runs clean up their own keys), including
 * the companion keys whose name starts with a hash tag around the prefixed name (layout.ts). On a
 * cluster every master is scanned.
 */
export async function deleteKeysWithPrefix(redis: RedisClient, prefix: string): Promise<void> {
  if (!prefix) return;
  const nodes: Redis[] = isCluster(redis) ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    for (const pattern of [`${prefix}*`, `{${prefix}*`]) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', pattern.replace(/[[\]?]/g, '\\$&'), 'COUNT', 1000);
        // One DEL per key (not one multi-key DEL): keys of a cluster live in different slots.
        await Promise.all(found.map((key) => node.del(key)));
        cursor = next;
      } while (cursor !== '0');
    }
  }
}

/**
 * Resolves once the connection is ready, or after `timeoutMs` (whatever happened): for the first
 * command of a fail-fast connection, which would fail while the connection is still being made.
 */
/** The masters to SCAN: every master of a cluster (SCAN is per node), or the one Redis. */
export function scanNodes(redis: RedisClient): Redis[] {
  return isCluster(redis) ? redis.nodes('master') : [redis];
}

export function whenConnected(redis: RedisClient, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    redis.once('ready', done);
  });
}
