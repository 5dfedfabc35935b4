/**
 * Size bounds of everything a tenant can put into a project config, in one table, and the bound
 * on one config's size that follows from it. The option schemas (registry.ts) and the trusted
 * relays validation enforce these at write time with 400 field errors; the builder guards the
 * serialized result with `MAX_CONFIG_BYTES` for values stored before the bounds existed.
 *
 * Where Sentry has a limit we use it (sensitive fields: 4000 characters in total, because Relay
 * compiles them into one regex); elsewhere the limit is generous for real use and small enough
 * that a config stays well inside Relay's 20 MiB response cap with many keys per response.
 */

/** A list of strings: entry count, characters per entry, characters in total (UTF-16 units, as JavaScript counts). */
export interface ListBound {
  maxItems: number;
  maxItemChars: number;
  maxTotalChars: number;
  /**
   * Most bytes one character can take in the config's JSON: 6 for free text (a control
   * character is written `\u0001`), 1 when validation keeps the entries plain ASCII.
   */
  jsonBytesPerChar: 1 | 6;
  /** How many copies of the list a config carries (organization and project values are concatenated). */
  copiesInConfig: 1 | 2;
}

export const LIST_BOUNDS = {
  // Sentry's MAX_SENSITIVE_FIELD_CHARS.
  'sentry:sensitive_fields': { maxItems: 1000, maxItemChars: 200, maxTotalChars: 4000, jsonBytesPerChar: 6, copiesInConfig: 2 },
  // Relay compiles safe fields into selectors as it does sensitive fields: the same bound.
  'sentry:safe_fields': { maxItems: 1000, maxItemChars: 200, maxTotalChars: 4000, jsonBytesPerChar: 6, copiesInConfig: 2 },
  'sentry:origins': { maxItems: 200, maxItemChars: 500, maxTotalChars: 10_000, jsonBytesPerChar: 6, copiesInConfig: 1 },
  'sentry:error_messages': { maxItems: 200, maxItemChars: 1000, maxTotalChars: 10_000, jsonBytesPerChar: 6, copiesInConfig: 1 },
  // Sentry's release versions are at most 250 characters.
  'sentry:releases': { maxItems: 200, maxItemChars: 250, maxTotalChars: 10_000, jsonBytesPerChar: 6, copiesInConfig: 1 },
  'sentry:csp_ignored_sources': { maxItems: 200, maxItemChars: 500, maxTotalChars: 10_000, jsonBytesPerChar: 6, copiesInConfig: 1 },
  // An IPv6 CIDR is at most 43 characters; the address check keeps them ASCII.
  'sentry:blacklisted_ips': { maxItems: 1000, maxItemChars: 43, maxTotalChars: 43_000, jsonBytesPerChar: 1, copiesInConfig: 1 },
  'sentry:transaction_metrics_custom_tags': { maxItems: 100, maxItemChars: 200, maxTotalChars: 4000, jsonBytesPerChar: 6, copiesInConfig: 1 },
  'sentry:log_messages': { maxItems: 200, maxItemChars: 1000, maxTotalChars: 10_000, jsonBytesPerChar: 6, copiesInConfig: 1 },
  'sentry:trace_metric_names': { maxItems: 200, maxItemChars: 250, maxTotalChars: 10_000, jsonBytesPerChar: 6, copiesInConfig: 1 },
} as const satisfies Record<string, ListBound>;

export type BoundedListOption = keyof typeof LIST_BOUNDS;

/** `sentry:relay_pii_config`: the stored text, its rule count, and the rules as merged into a config. */
export const PII_CONFIG_BOUNDS = {
  maxTextBytes: 64 * 1024,
  maxRules: 200,
  /** The JSON of the config merged alone with the longest prefix (`organization:`). */
  maxMergedBytes: 64 * 1024,
  copiesInConfig: 2,
} as const;

/** `sentry:breakdowns` (copied into `breakdownsV2` as is). */
export const BREAKDOWNS_BOUNDS = { maxEntries: 20, maxJsonBytes: 16 * 1024 } as const;

/** `sentry:trusted-relays`: only the public keys (43 characters each) reach a config. */
export const TRUSTED_RELAY_BOUNDS = { maxItems: 100, maxNameChars: 200, maxDescriptionChars: 2000, publicKeyChars: 43 } as const;

/**
 * `sentry:transaction_name_cluster_rules`: URL globs, kept plain printable ASCII (as the
 * clusterer writes them), each emitted with a fixed-size expiry and redaction.
 */
export const TX_NAME_RULE_BOUNDS = { maxItems: 200, maxPatternChars: 200, jsonBytesPerRuleOverhead: 100 } as const;

/** `relay.cardinality-limiter.limits`: each limit is a few numbers and enums besides its id (ASCII). */
export const CARDINALITY_LIMIT_BOUNDS = { maxItems: 50, maxIdChars: 64, jsonBytesPerLimitOverhead: 200 } as const;

/** Retention days (`eventRetention`, `downsampledEventRetention`, `retentions`): ten years at most. */
export const RETENTION_DAYS_MAX = 3650;

/** `sentry:trimming`: the span size Relay trims to; Relay's own default span limit is 1 MiB. */
export const TRIMMING_BOUNDS = { maxSpanBytes: 16 * 1024 * 1024 } as const;

/** `retentions`, `downsampledEventRetention` and `trimming` together: a handful of numbers. */
const SMALL_OPTIONAL_FIELDS_BYTES = 512;

/**
 * Everything else a config holds, tenant input or not: ids, the slug (≤ 50 characters), times,
 * rev, the requested key, key quotas, filter switches and their default lists, legacy-browser
 * subfilters (at most the 10 known ones), Sentry's fixed sections (performance score profiles,
 * sampling rules, generic filters, grouping config, feature names), the field names of the config
 * itself. The server's own `ALLOWED_ORIGINS` is the operator's and not counted.
 */
export const FIXED_CONFIG_BYTES = 32 * 1024;

/** The JSON bytes a bounded list can take: brackets, per entry two quotes and a comma, the characters. */
export function listJsonBytes(bound: ListBound): number {
  return 2 + bound.maxItems * 3 + bound.maxTotalChars * bound.jsonBytesPerChar;
}

/** The bound on one config's JSON that follows from the table (about 700 KiB). */
export const MAX_TENANT_CONFIG_BYTES =
  FIXED_CONFIG_BYTES +
  Object.values(LIST_BOUNDS).reduce((sum, bound) => sum + bound.copiesInConfig * listJsonBytes(bound), 0) +
  PII_CONFIG_BOUNDS.copiesInConfig * PII_CONFIG_BOUNDS.maxMergedBytes +
  BREAKDOWNS_BOUNDS.maxJsonBytes +
  (2 + TRUSTED_RELAY_BOUNDS.maxItems * (TRUSTED_RELAY_BOUNDS.publicKeyChars + 3)) +
  (2 + TX_NAME_RULE_BOUNDS.maxItems * (TX_NAME_RULE_BOUNDS.maxPatternChars + TX_NAME_RULE_BOUNDS.jsonBytesPerRuleOverhead)) +
  (2 + CARDINALITY_LIMIT_BOUNDS.maxItems * (CARDINALITY_LIMIT_BOUNDS.maxIdChars + CARDINALITY_LIMIT_BOUNDS.jsonBytesPerLimitOverhead)) +
  SMALL_OPTIONAL_FIELDS_BYTES;

/**
 * A computed config larger than this is refused as that key's build failure (it is never cached
 * or served). Far above `MAX_TENANT_CONFIG_BYTES`, so only values stored before the bounds can
 * reach it; it keeps any single config well inside Relay's 20 MiB response cap, which would
 * otherwise leave the key `pending` forever.
 */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
