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
  /** The build claim of one key (debounce). */
  claim(publicKey: string): string;
  /** The global change counter of the stale-write guard. */
  generation: string;
  /** The generation stamp a change sets on its scope. */
  stamp: {
    organization(id: number | null): string;
    project(id: number | null): string;
    key(publicKey: string): string;
  };
  /** "An invalidation of this scope is pending" markers. */
  marker: {
    organization(id: number): string;
    project(id: number): string;
    template(id: number): string;
    key(publicKey: string): string;
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
  /** BullMQ's queue prefix. */
  bullPrefix: string;
  /** The prefix itself, for clean-up of everything under it. */
  prefix: string;
}

/** SCAN's glob metacharacters, escaped so a prefix matches only itself. */
const globEscape = (text: string) => text.replace(/[[\]?*\\]/g, '\\$&');

export function redisLayout(prefix: string): RedisLayout {
  const configPrefix = `${prefix}relayconfig:`;
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
    deflated: (publicKey) => `{${configPrefix}${publicKey}}:entry.deflated`,
    claim: (publicKey) => `${prefix}relayconfig-debounce:k:${publicKey}`,
    generation: `${prefix}relayconfig-gen:global`,
    stamp: {
      organization: (id) => `${prefix}relayconfig-gen:o:${id ?? 'none'}`,
      project: (id) => `${prefix}relayconfig-gen:p:${id ?? 'none'}`,
      key: (publicKey) => `${prefix}relayconfig-gen:k:${publicKey}`,
    },
    marker: {
      organization: (id) => `${prefix}relayconfig-inv:o:${id}`,
      project: (id) => `${prefix}relayconfig-inv:p:${id}`,
      template: (id) => `${prefix}relayconfig-inv:t:${id}`,
      key: (publicKey) => `${prefix}relayconfig-inv:k:${publicKey}`,
    },
    relayPublicKeys: `${prefix}relays:public-keys`,
    trustedRelayKeys: `${prefix}relays:trusted-keys`,
    relayLastConfigFetch: `${prefix}relays:last-config-fetch`,
    buildFailure: (publicKey) => `{${prefix}relayconfig:${publicKey}}:last-failure`,
    registrationRate: (bucket) => `${prefix}relay-register-rate:${bucket}`,
    bullPrefix: `${prefix}bull`,
    prefix,
  };
}
