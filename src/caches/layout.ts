/**
 * The Redis layout (DESIGN.md, "Redis layout"): the one module that spells a key. Everything this
 * service stores is named here, with the optional `REDIS_KEY_PREFIX` in front.
 *
 * Public contract: `relayconfig:<publicKey>` (the config JSON) and `relayconfig:<publicKey>.rev`
 * are read by processing Relays with `processing.redis` directly, exactly as Sentry writes them
 * (Relay's `projectconfig_cache_prefix` is `<REDIS_KEY_PREFIX>relayconfig`). Everything else is ours.
 */
export interface RedisLayout {
  /** The serialized config of one key (public contract). */
  config(publicKey: string): string;
  /** Its rev (public contract). */
  rev(publicKey: string): string;
  /** A SCAN MATCH pattern that finds every cached config key (and their `.rev` keys: see `publicKeyOfConfig`). */
  configPattern: string;
  /** The public key a config key found by `configPattern` belongs to; null for anything else (a `.rev`). */
  publicKeyOfConfig(key: string): string | null;
  /** The `CONFIG_FORMAT` the cached configs were last recomputed to (an upgrade recomputes them in place). */
  configFormat: string;
  /**
   * The config's pre-compressed reply entry for gzip replies (gzip-splice.ts). Named by the config
   * key in a hash tag, so on a cluster it lives in the config key's slot.
   */
  deflated(publicKey: string): string;
  /**
   * Where versions before the segmented pieces kept the entry (another format): every write of a
   * piece deletes it, so a process of the older version still running in a rolling upgrade finds
   * no piece, never a stale one, and answers from the plain config.
   */
  legacyDeflated(publicKey: string): string;
  /** The build claim of one key (debounce), in the config key's slot. */
  claim(publicKey: string): string;
  /**
   * The generation (and rev) the stored config was computed from, in the config key's slot: the
   * cluster's stale-write guard (project-config-cache.ts).
   */
  computedAt(publicKey: string): string;
  /** The same for the `.rev` key, in the rev key's slot: the rev is written after the config. */
  revComputedAt(publicKey: string): string;
  /** The global change counter of the stale-write guard. */
  generation: string;
  /** The generation stamp a change sets on its scope. */
  stamp: {
    organization(id: number | null): string;
    project(id: number | null): string;
    key(publicKey: string): string;
  };
  /**
   * "An invalidation of this scope is pending" markers; all of one organization's in one slot
   * (every scope names its organization), so the marker scripts touch one slot.
   */
  marker: {
    organization(id: number): string;
    template(organizationId: number, id: number): string;
    key(organizationId: number, publicKey: string): string;
    project(organizationId: number, id: number): string;
  };
  /** The hash of registered relays' public keys (relay id → key), read by every API process. */
  relayPublicKeys: string;
  /** The hash of the operator's trusted relay keys (public key → name), `relays trust`/`untrust`. */
  trustedRelayKeys: string;
  /** The hash of each relay's last config fetch (relay id → ISO time), for `relays list`. */
  relayLastConfigFetch: string;
  /** The last failed build of one key (JSON: reason, message, attempts, at), for `configs status`. */
  buildFailure(publicKey: string): string;
  /** The registration counter of one client address (or IPv6 /64) in the current window. */
  registrationRate(bucket: string): string;
  /**
   * BullMQ's prefix for one queue. On a cluster a hash tag naming the queue: each queue's keys
   * share a slot (BullMQ's rule) and the queues spread over the masters, so a stopped master stops
   * only the queues in its slots. On one Redis the same `<prefix>bull` for every queue.
   */
  bullPrefix(queue: string): string;
  /** The prefix itself, for clean-up of everything under it. */
  prefix: string;
}

/** SCAN's glob metacharacters, escaped so a prefix matches only itself. */
const globEscape = (text: string) => text.replace(/[[\]?*\\]/g, '\\$&');

export interface RedisLayoutOptions {
  /** On a Redis Cluster (changes only BullMQ's prefixes: queues created on a single Redis keep their names). */
  cluster?: boolean;
}

export function redisLayout(prefix: string, options: RedisLayoutOptions = {}): RedisLayout {
  const configPrefix = `${prefix}relayconfig:`;
  const orgTag = (id: number) => `{${prefix}relayconfig-inv:o:${id}}`;
  return {
    config: (publicKey) => `${configPrefix}${publicKey}`,
    rev: (publicKey) => `${configPrefix}${publicKey}.rev`,
    configPattern: `${globEscape(configPrefix)}*`,
    publicKeyOfConfig(key) {
      if (!key.startsWith(configPrefix)) return null;
      const publicKey = key.slice(configPrefix.length);
      // Public keys are hex; a dot or colon is a companion (`.rev`) or someone else's key.
      return /^[A-Za-z0-9_-]+$/.test(publicKey) ? publicKey : null;
    },
    configFormat: `${prefix}relayconfig-format`,
    deflated: (publicKey) => `{${configPrefix}${publicKey}}:entry.gz`,
    legacyDeflated: (publicKey) => `{${configPrefix}${publicKey}}:entry.deflated`,
    claim: (publicKey) => `{${configPrefix}${publicKey}}:claim`,
    computedAt: (publicKey) => `{${configPrefix}${publicKey}}:gen`,
    revComputedAt: (publicKey) => `{${configPrefix}${publicKey}.rev}:gen`,
    generation: `${prefix}relayconfig-gen:global`,
    stamp: {
      organization: (id) => `${prefix}relayconfig-gen:o:${id ?? 'none'}`,
      project: (id) => `${prefix}relayconfig-gen:p:${id ?? 'none'}`,
      key: (publicKey) => `${prefix}relayconfig-gen:k:${publicKey}`,
    },
    marker: {
      organization: (id) => orgTag(id),
      project: (organizationId, id) => `${orgTag(organizationId)}:p:${id}`,
      template: (organizationId, id) => `${orgTag(organizationId)}:t:${id}`,
      key: (organizationId, publicKey) => `${orgTag(organizationId)}:k:${publicKey}`,
    },
    relayPublicKeys: `${prefix}relays:public-keys`,
    trustedRelayKeys: `${prefix}relays:trusted-keys`,
    relayLastConfigFetch: `${prefix}relays:last-config-fetch`,
    buildFailure: (publicKey) => `{${prefix}relayconfig:${publicKey}}:last-failure`,
    registrationRate: (bucket) => `${prefix}relay-register-rate:${bucket}`,
    bullPrefix: (queue) => (options.cluster ? `{${prefix}bull:${queue}}` : `${prefix}bull`),
    prefix,
  };
}
