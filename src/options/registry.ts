import { z } from 'zod';
import { parseCidr } from '../formats';
import { parseRelayPublicKey } from '../relay-auth/keys';
import {
  BREAKDOWNS_BOUNDS,
  CARDINALITY_LIMIT_BOUNDS,
  LIST_BOUNDS,
  PII_CONFIG_BOUNDS,
  RETENTION_DAYS_MAX,
  TRIMMING_BOUNDS,
  TRUSTED_RELAY_BOUNDS,
  TX_NAME_RULE_BOUNDS,
  type BoundedListOption,
} from './bounds';
import { isFeatureName, type FeatureOverrides } from './features';
import { mergePiiConfigs, RESERVED_PII_NAMES, validatePiiConfig, type PiiConfig } from './pii-config';

/**
 * Every option key the service knows: where it may be stored, its schema and its registered
 * default. Project options are also what project templates store.
 */

export type OptionScope = 'organization' | 'project';

export interface OptionDefinition<T = unknown> {
  key: string;
  scopes: readonly OptionScope[];
  schema: z.ZodType<T>;
  default: T;
  /** One line for error messages and documentation. */
  description: string;
}

/** A list of strings within its bounds (bounds.ts); `item` adds checks of each entry. */
function boundedList(option: BoundedListOption, item: z.ZodType<string, string> = z.string()) {
  const { maxItems, maxItemChars, maxTotalChars } = LIST_BOUNDS[option];
  return z
    .array(z.string().max(maxItemChars, `Ensure each entry has no more than ${maxItemChars} characters.`).pipe(item))
    .max(maxItems, `Ensure this field has no more than ${maxItems} elements.`)
    .refine((list) => list.reduce((sum, entry) => sum + entry.length, 0) <= maxTotalChars, `The list is too long: at most ${maxTotalChars} characters in total.`);
}

const filterSwitch = z.enum(['0', '1']);

const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');

const piiConfigText = z.string().superRefine((text, ctx) => {
  if (text.trim() === '') return;
  if (utf8Bytes(text) > PII_CONFIG_BOUNDS.maxTextBytes) {
    ctx.addIssue({ code: 'custom', message: `The PII config is too large: at most ${PII_CONFIG_BOUNDS.maxTextBytes} bytes of JSON text.` });
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'Invalid JSON' });
    return;
  }
  const problem = validatePiiConfig(parsed);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: `Invalid PII config: ${problem}` });
    return;
  }
  const config = parsed as PiiConfig;
  if (Object.keys(config.rules ?? {}).length > PII_CONFIG_BOUNDS.maxRules) {
    ctx.addIssue({ code: 'custom', message: `The PII config has too many rules: at most ${PII_CONFIG_BOUNDS.maxRules}.` });
    return;
  }
  // Merging prefixes every custom rule name and reference; bound what the config will carry.
  const merged = JSON.stringify(mergePiiConfigs([{ prefix: 'organization:', config }]));
  if (utf8Bytes(merged) > PII_CONFIG_BOUNDS.maxMergedBytes) {
    ctx.addIssue({ code: 'custom', message: `The PII config is too large once its rule names are prefixed: at most ${PII_CONFIG_BOUNDS.maxMergedBytes} bytes.` });
  }
});

const breakdownsSchema = z
  .record(z.string(), z.record(z.string(), z.unknown()))
  .refine((value) => Object.keys(value).length <= BREAKDOWNS_BOUNDS.maxEntries, `Ensure this field has no more than ${BREAKDOWNS_BOUNDS.maxEntries} breakdowns.`)
  .refine((value) => utf8Bytes(JSON.stringify(value)) <= BREAKDOWNS_BOUNDS.maxJsonBytes, `The breakdowns are too large: at most ${BREAKDOWNS_BOUNDS.maxJsonBytes} bytes of JSON.`);

/**
 * Checks breakdown names before the schema parses them: zod drops a `__proto__` entry silently,
 * and names every object inherits are refused like PII rule names.
 */
function breakdownNamesProblem(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const reserved = Object.keys(value).find((name) => RESERVED_PII_NAMES.has(name));
  return reserved === undefined ? null : `breakdown name "${reserved}" is a reserved name (a property every JavaScript object inherits); choose another`;
}

export const trustedRelaySchema = z.object({
  publicKey: z.string().refine((k) => parseRelayPublicKey(k) !== null, 'Invalid relay public key'),
  name: z.string().min(1).max(TRUSTED_RELAY_BOUNDS.maxNameChars),
  description: z.string().max(TRUSTED_RELAY_BOUNDS.maxDescriptionChars).default(''),
  created: z.string(),
  lastModified: z.string(),
});
export type TrustedRelay = z.infer<typeof trustedRelaySchema>;

/** Sentry's project option default (epoch 1 and later), as Relay's serializer writes the type. */
export const DEFAULT_BREAKDOWNS = {
  span_ops: { type: 'spanOperations', matches: ['http', 'db', 'browser', 'resource', 'ui'] },
};

/** Sentry's dynamic sampling bias ids (`RuleType`), plus `minimumSampleRate`, which Sentry switches by its own option. */
export const DYNAMIC_SAMPLING_BIAS_IDS = [
  'boostEnvironments',
  'boostLatestRelease',
  'ignoreHealthChecks',
  'boostKeyTransactions',
  'boostLowVolumeTransactions',
  'boostReplayId',
  'recalibrationRule',
  'minimumSampleRate',
] as const;
export type DynamicSamplingBiasId = (typeof DYNAMIC_SAMPLING_BIAS_IDS)[number];
export interface DynamicSamplingBias {
  id: DynamicSamplingBiasId;
  active: boolean;
}

const featureOverridesSchema = z.record(z.string(), z.boolean()).superRefine((value, ctx) => {
  for (const name of Object.keys(value)) if (!isFeatureName(name)) ctx.addIssue({ code: 'custom', message: `Unknown feature flag "${name}"` });
}) as unknown as z.ZodType<FeatureOverrides>;

const biasesSchema = z
  .array(z.strictObject({ id: z.enum(DYNAMIC_SAMPLING_BIAS_IDS, { error: `Unknown bias; use any of ${DYNAMIC_SAMPLING_BIAS_IDS.join(', ')}` }), active: z.boolean() }))
  .max(DYNAMIC_SAMPLING_BIAS_IDS.length)
  .refine((list) => new Set(list.map((b) => b.id)).size === list.length, 'Each bias may appear once');

const sampleRate = z.number().min(0, 'Must be a number from 0 to 1').max(1, 'Must be a number from 0 to 1');

export const LEGACY_BROWSER_SUBFILTERS = [
  'default',
  'ie_pre_9',
  'ie9',
  'ie10',
  'ie11',
  'opera_pre_15',
  'opera_mini_pre_8',
  'android_pre_4',
  'safari_pre_6',
  'edge_pre_79',
] as const;

/**
 * The transaction clusterer's rules as Sentry stores them: a URL glob and when it last matched
 * (unix seconds). A list rather than Sentry's pattern-keyed object, so a pattern is never an
 * object key (zod would drop `__proto__` silently).
 */
const txNameRulesSchema = z
  .array(
    z.strictObject({
      pattern: z
        .string()
        .min(1)
        .max(TX_NAME_RULE_BOUNDS.maxPatternChars, `Ensure each pattern has no more than ${TX_NAME_RULE_BOUNDS.maxPatternChars} characters.`)
        .regex(/^[\x21-\x7e]+$/, 'A pattern is a URL glob of printable ASCII characters without spaces'),
      lastSeen: z.number().int().min(0).max(253_402_300_799, 'Must be unix seconds'),
    }),
  )
  .max(TX_NAME_RULE_BOUNDS.maxItems, `Ensure this field has no more than ${TX_NAME_RULE_BOUNDS.maxItems} elements.`)
  .refine((list) => new Set(list.map((r) => r.pattern)).size === list.length, 'Each pattern may appear once');
export type TxNameClusterRule = z.infer<typeof txNameRulesSchema>[number];

/** Relay's metric namespaces a cardinality limit may name; an unknown one would make Relay refuse the whole config. */
export const CARDINALITY_NAMESPACES = ['transactions', 'sessions', 'spans', 'custom', 'profiles'] as const;
const positiveSeconds = z.number().int().min(1).max(30 * 24 * 3600);

/** Cardinality limits in Relay's shape (FULL_CONFIG.md §7). */
const cardinalityLimitsSchema = z
  .array(
    z.strictObject({
      id: z.string().min(1).max(CARDINALITY_LIMIT_BOUNDS.maxIdChars).regex(/^[\x21-\x7e]+$/, 'An id is printable ASCII without spaces'),
      window: z
        .strictObject({ windowSeconds: positiveSeconds, granularitySeconds: positiveSeconds })
        .refine((w) => w.granularitySeconds <= w.windowSeconds, 'granularitySeconds must not exceed windowSeconds'),
      limit: z.number().int().min(0).max(2 ** 32 - 1),
      scope: z.enum(['organization', 'project', 'type', 'name']),
      namespace: z.enum(CARDINALITY_NAMESPACES).optional(),
      passive: z.boolean().optional(),
    }),
  )
  .max(CARDINALITY_LIMIT_BOUNDS.maxItems, `Ensure this field has no more than ${CARDINALITY_LIMIT_BOUNDS.maxItems} elements.`)
  .refine((list) => new Set(list.map((l) => l.id)).size === list.length, 'Each limit id may appear once');
export type CardinalityLimit = z.infer<typeof cardinalityLimitsSchema>[number];

const retentionDays = z.number().int().min(1).max(RETENTION_DAYS_MAX);
const retentionSchema = z.strictObject({ standard: retentionDays, downsampled: retentionDays.optional() });
/** Retention of the EAP categories Relay knows (`RETENTIONS_CONFIG_MAPPING`); null: left out. */
const retentionsSchema = z.strictObject({ log: retentionSchema.optional(), span: retentionSchema.optional(), traceMetric: retentionSchema.optional() });
export type Retentions = z.infer<typeof retentionsSchema>;

const trimmingSchema = z.strictObject({ span: z.strictObject({ maxSize: z.number().int().min(1).max(TRIMMING_BOUNDS.maxSpanBytes) }) });
export type Trimming = z.infer<typeof trimmingSchema>;

function define<const K extends string, const S extends readonly OptionScope[], T>(
  key: K,
  scopes: S,
  schema: z.ZodType<T>,
  fallback: NoInfer<T>,
  description: string,
): OptionDefinition<T> & { key: K; scopes: S } {
  return { key, scopes, schema, default: fallback, description };
}

const ORG = ['organization'] as const;
const PROJECT = ['project'] as const;
const BOTH = ['organization', 'project'] as const;

const DEFINITIONS = [
  define('sentry:require_scrub_data', ORG, z.boolean(), false, 'force data scrubbing in every project'),
  define('sentry:require_scrub_defaults', ORG, z.boolean(), false, 'force the default scrubbers in every project'),
  define('sentry:require_scrub_ip_address', ORG, z.boolean(), false, 'force IP address scrubbing in every project'),
  define('sentry:trusted-relays', ORG, z.array(trustedRelaySchema).max(TRUSTED_RELAY_BOUNDS.maxItems), [] as TrustedRelay[], 'relays trusted by the organization'),
  define('sentry:event_retention', ORG, retentionDays.nullable(), null as number | null, 'event retention in days'),
  define('relay.cardinality-limiter.limits', ORG, cardinalityLimitsSchema, [] as CardinalityLimit[], 'metric cardinality limits Relay enforces (empty: none)'),
  define('sentry:downsampled_event_retention', ORG, retentionDays.nullable(), null as number | null, 'retention in days of downsampled events (null: not sent)'),
  define('sentry:retentions', ORG, retentionsSchema.nullable(), null as Retentions | null, 'retention of logs, spans and trace metrics (null: not sent)'),
  define('sentry:trimming', ORG, trimmingSchema.nullable(), null as Trimming | null, 'size Relay trims spans to (null: no trimming)'),
  define('sentry:scrub_data', PROJECT, z.boolean(), true, 'scrub data'),
  define('sentry:scrub_defaults', PROJECT, z.boolean(), true, 'use the default scrubbers'),
  define('sentry:scrub_ip_address', PROJECT, z.boolean(), false, 'scrub IP addresses'),
  define('sentry:sensitive_fields', BOTH, boundedList('sentry:sensitive_fields'), [] as string[], 'extra field names to scrub'),
  define('sentry:safe_fields', BOTH, boundedList('sentry:safe_fields'), [] as string[], 'field names never scrubbed'),
  define('sentry:relay_pii_config', BOTH, piiConfigText, '', 'advanced data scrubbing rules (JSON text)'),
  define('sentry:feature_overrides', BOTH, featureOverridesSchema, {}, 'feature flags turned on or off here, over the server default (API field featureOverrides)'),
  define('sentry:sampling_mode', ORG, z.enum(['organization', 'project']), 'organization', 'where the target sample rate comes from'),
  define('sentry:target_sample_rate', BOTH, sampleRate, 1.0, 'target sample rate of dynamic sampling'),
  define('sentry:dynamic_sampling_biases', PROJECT, biasesSchema.nullable(), null, 'dynamic sampling biases switched on or off (Sentry defaults when unset)'),
  define('sentry:transaction_metrics_custom_tags', PROJECT, boundedList('sentry:transaction_metrics_custom_tags'), [] as string[], 'extra tags of transaction metrics'),
  define('sentry:ingest-through-trusted-relays-only', ORG, z.enum(['enabled', 'disabled']), 'disabled', 'accept events only through trusted relays'),
  define('sentry:transaction_name_cluster_rules', PROJECT, txNameRulesSchema, [] as TxNameClusterRule[], 'transaction name rules of the clusterer (pattern, last seen in unix seconds)'),
  define('sentry:origins', PROJECT, boundedList('sentry:origins'), ['*'], 'allowed domains'),
  define('sentry:breakdowns', PROJECT, breakdownsSchema, DEFAULT_BREAKDOWNS as Record<string, Record<string, unknown>>, 'span breakdowns'),
  define('filters:browser-extensions', PROJECT, filterSwitch, '0', 'inbound filter: browser extensions'),
  define('filters:localhost', PROJECT, filterSwitch, '0', 'inbound filter: localhost'),
  define('filters:web-crawlers', PROJECT, filterSwitch, '0', 'inbound filter: web crawlers'),
  define('filters:filtered-transaction', PROJECT, filterSwitch, '1', 'inbound filter: health checks'),
  define('filters:chunk-load-error', PROJECT, filterSwitch, '1', 'inbound filter: chunk load errors'),
  define('filters:react-hydration-errors', PROJECT, filterSwitch, '1', 'inbound filter: React hydration errors'),
  define(
    'filters:legacy-browsers',
    PROJECT,
    z.union([filterSwitch, z.array(z.enum(LEGACY_BROWSER_SUBFILTERS)).max(LEGACY_BROWSER_SUBFILTERS.length)]),
    '0',
    'inbound filter: legacy browsers ("1" or a list of subfilters)',
  ),
  define('sentry:error_messages', PROJECT, boundedList('sentry:error_messages'), [] as string[], 'error message patterns to drop'),
  define('sentry:releases', PROJECT, boundedList('sentry:releases'), [] as string[], 'release patterns to drop'),
  define('sentry:log_messages', PROJECT, boundedList('sentry:log_messages'), [] as string[], 'log message patterns to drop'),
  define('sentry:trace_metric_names', PROJECT, boundedList('sentry:trace_metric_names'), [] as string[], 'trace metric name patterns to drop'),
  define(
    'sentry:blacklisted_ips',
    PROJECT,
    boundedList('sentry:blacklisted_ips', z.string().refine((ip) => parseCidr(ip) !== null, 'must be an IP address or CIDR')),
    [] as string[],
    'client IPs to drop',
  ),
  define('sentry:csp_ignored_sources_defaults', PROJECT, z.boolean(), true, 'drop CSP reports from the default noisy sources'),
  define('sentry:csp_ignored_sources', PROJECT, boundedList('sentry:csp_ignored_sources'), [] as string[], 'extra CSP sources to drop'),
] as const;

type Definition = (typeof DEFINITIONS)[number];
/** Every registered option key: a typo in a lookup is a type error, not a run-time one. */
export type OptionName = Definition['key'];
/** The value type of an option, from its schema. */
export type OptionValue<K extends OptionName> = Extract<Definition, { key: K }> extends OptionDefinition<infer T> ? T : never;
type NamesAt<S extends OptionScope> = Definition extends infer D ? (D extends { key: infer K; scopes: readonly (infer X)[] } ? (S extends X ? K : never) : never) : never;
/** Options a project (and a template) may store. */
export type ProjectOptionName = NamesAt<'project'>;
/** Options an organization may store. */
export type OrganizationOptionName = NamesAt<'organization'>;

export const OPTION_DEFINITIONS: readonly OptionDefinition[] = DEFINITIONS;

/** Narrows a run-time string (a request field, a stored row) to a registered option key. */
export function isOptionName(key: string): key is OptionName {
  return BY_KEY.has(key);
}

const BY_KEY = new Map(OPTION_DEFINITIONS.map((d) => [d.key, d]));

/** The definition of a known key, or undefined. */
export function optionDefinition(key: string): OptionDefinition | undefined {
  return BY_KEY.get(key);
}

export class OptionValidationError extends Error {
  constructor(
    readonly optionKey: string,
    message: string,
  ) {
    super(message);
    this.name = 'OptionValidationError';
  }
}

/** Throws `OptionValidationError` unless the key is known and may be stored at this scope. */
export function assertKnownOption(scope: OptionScope, key: string): OptionDefinition {
  const definition = BY_KEY.get(key);
  if (!definition) throw new OptionValidationError(key, `Unknown option "${key}"`);
  if (!definition.scopes.includes(scope)) throw new OptionValidationError(key, `Option "${key}" cannot be set on a ${scope}`);
  return definition;
}

/** Validates a value for a scope; returns the parsed value or throws `OptionValidationError`. */
export function validateOption(scope: OptionScope, key: string, value: unknown): unknown {
  const definition = assertKnownOption(scope, key);
  const badName = key === 'sentry:breakdowns' ? breakdownNamesProblem(value) : null;
  if (badName) throw new OptionValidationError(key, `Invalid value for "${key}": ${badName}`);
  const parsed = definition.schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new OptionValidationError(key, `Invalid value for "${key}"${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

export type OptionValues = ReadonlyMap<string, unknown>;

/**
 * An option's effective value: the stored value, else the template's, else the registered default
 * — the one place this fallback is written (builder, API and CLI all read options through it).
 */
export function resolveOption<K extends OptionName>(key: K, own: OptionValues, template?: OptionValues | null): OptionValue<K> {
  if (own.has(key)) return own.get(key) as OptionValue<K>;
  if (template?.has(key)) return template.get(key) as OptionValue<K>;
  return BY_KEY.get(key)!.default as OptionValue<K>;
}
