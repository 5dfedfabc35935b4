import { z } from 'zod';
import { parseCidr, UUID_RE } from '../formats';
import { DEFAULT_FEATURES, isFeatureName, type FeatureName } from '../options/features';
import { parseRelayPublicKey } from '../relay-auth/keys';
import { mergeGlobalConfig } from '../relay-config/global-config';

/**
 * The only module that reads the environment. Every other module receives a `Settings` object,
 * so tests and entry points configure the service the same way.
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `false`, a hop count (`true` = 1: the address your one proxy saw), or trusted proxy addresses. */
export type TrustProxy = false | number | string[];

export interface StaticRelay {
  publicKey: string;
  internal: boolean;
}

export interface Settings {
  nodeEnv: 'development' | 'test' | 'production';
  databaseUrl: string;
  redisUrl: string;
  redisKeyPrefix: string;
  /** Seeds of a Redis Cluster (`REDIS_CLUSTER_NODES`); empty: the single Redis of `redisUrl`. */
  redisClusterNodes: RedisClusterNode[];
  port: number;
  workerPort: number;
  /** The operator's registration-token secret; null: generated once and kept in PostgreSQL. */
  systemSecretKey: string | null;
  /** Sentry's `system.url-prefix`: the public base URL of DSNs, avatar URLs and pagination links, no trailing slash. */
  systemUrlPrefix: string;
  relayWhitelistPk: string[];
  relayStaticAuth: Record<string, StaticRelay>;
  internalSystemIps: string[];
  /**
   * Which proxies' `X-Forwarded-For` entries to believe (Express's `trust proxy`): `false` none,
   * a number of hops counted from the socket, or the proxies' addresses/CIDRs. Never "every hop":
   * the leftmost entry is whatever the client wrote.
   */
  trustProxy: TrustProxy;
  relayOpenRegistration: boolean;
  relayAllowTrusted: boolean;
  allowedOrigins: string[];
  configCacheTtlS: number;
  buildClaimTtlS: number;
  buildBatchSize: number;
  workerConcurrency: number;
  invalidationDelayMs: number;
  /** How often each worker's outbox drainer looks for rows the API could not publish itself. */
  outboxPollMs: number;
  bullBoardUser: string;
  bullBoardPassword: string;
  bullBoardReadOnly: boolean;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Sentry's v3 global config with the operator's `RELAY_GLOBAL_CONFIG` merged over it (top-level keys; null removes one). */
  globalConfig: Record<string, unknown>;
  /** Feature flags on for every organization unless overridden (`DEFAULT_FEATURES`). */
  defaultFeatures: FeatureName[];
  /** `eventRetention` of organizations without their own; 0 leaves it out (`EVENT_RETENTION_DAYS`). */
  eventRetentionDays: number;
  /** Registration requests per minute per client address; 0 turns the limit off. */
  relayRegisterRateLimit: number;
  /** Registered relays not seen for this many days are removed; 0 keeps them forever. */
  relayPruneAfterDays: number;
  /** How long / how many finished jobs stay visible in Bull Board; 0 keeps none. */
  jobsKeepCompletedS: number;
  jobsKeepCompletedCount: number;
  /** How long failed jobs stay; 0 keeps none. */
  jobsKeepFailedS: number;
}

export interface RedisClusterNode {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls: boolean;
}

export class SettingsError extends Error {
  constructor(readonly problems: { key: string; message: string }[]) {
    super(
      `Invalid settings (${problems.length}):\n` +
        problems.map((p) => `  ${p.key}: ${p.message}`).join('\n'),
    );
    this.name = 'SettingsError';
  }
}

const list = z
  .string()
  .transform((s) => s.split(',').map((part) => part.trim()).filter((part) => part.length > 0));

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false'], { error: 'must be "true" or "false"' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true');

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((s, ctx) => {
      const n = /^\d+$/.test(s.trim()) ? Number(s.trim()) : Number.NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

const url = (protocols: string[], fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine(
      (s) => {
        try {
          return protocols.includes(new URL(s).protocol);
        } catch {
          return false;
        }
      },
      { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
    );

/** An absolute http(s) base URL without query or fragment; trailing slashes trimmed. */
const urlPrefix = z
  .string()
  .optional()
  .refine(
    (s) => {
      if (s === undefined) return true;
      try {
        const parsed = new URL(s);
        return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.host !== '' && parsed.search === '' && parsed.hash === '' && parsed.username === '' && parsed.password === '';
      } catch {
        return false;
      }
    },
    { message: 'must be an absolute http:// or https:// URL without query, fragment or credentials, e.g. https://sentry.example.com' },
  )
  .transform((s) => s?.replace(/\/+$/, ''));

const relayPublicKeys = list.refine((keys) => keys.every((k) => parseRelayPublicKey(k) !== null), {
  message: 'every entry must be a relay public key (43 characters of unpadded base64url)',
});

const cidrs = list.refine((entries) => entries.every((e) => parseCidr(e) !== null), {
  message: 'every entry must be an IP address or a CIDR such as 10.0.0.0/8 or fd00::/8',
});

/** Express's named ranges, accepted beside addresses and CIDRs in `TRUST_PROXY`. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * `false`, `true` (one hop), a hop count, or a comma-separated list of the proxies' addresses,
 * CIDRs or `loopback`/`linklocal`/`uniquelocal`. Express's "trust every hop" is not offered: it
 * would take the client-written leftmost entry as the address (and so as an internal address).
 */
const trustProxy = z
  .string()
  .default('false')
  .transform((s, ctx): TrustProxy => {
    const value = s.trim();
    if (value === 'false' || value === '0') return false;
    if (value === 'true') return 1;
    if (/^\d+$/.test(value)) {
      const hops = Number(value);
      if (hops <= 10) return hops;
    }
    const entries = value.split(',').map((e) => e.trim()).filter((e) => e.length > 0);
    if (entries.length > 0 && entries.every((e) => PROXY_RANGE_NAMES.includes(e) || parseCidr(e) !== null)) return entries;
    ctx.addIssue({ code: 'custom', message: 'must be "false", "true" (one proxy), a hop count up to 10, or the proxies\' addresses/CIDRs (comma-separated; loopback, linklocal, uniquelocal allowed)' });
    return z.NEVER;
  });

const staticAuth = z
  .string()
  .default('')
  .transform((s, ctx) => {
    if (s.trim() === '') return {};
    let raw: unknown;
    try {
      raw = JSON.parse(s);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON: {"<relay id>": {"public_key": "...", "internal": true}}' });
      return z.NEVER;
    }
    const entry = z.object({ public_key: z.string(), internal: z.boolean().default(false) });
    const parsed = z.record(z.string(), entry).safeParse(raw);
    if (!parsed.success) {
      ctx.addIssue({ code: 'custom', message: 'must map relay ids to {"public_key": string, "internal": boolean}' });
      return z.NEVER;
    }
    const out: Record<string, StaticRelay> = {};
    for (const [relayId, value] of Object.entries(parsed.data)) {
      if (!UUID_RE.test(relayId)) {
        ctx.addIssue({ code: 'custom', message: `relay id "${relayId}" is not a lower-case UUID` });
        return z.NEVER;
      }
      if (parseRelayPublicKey(value.public_key) === null) {
        ctx.addIssue({ code: 'custom', message: `public_key of relay ${relayId} is not a relay public key` });
        return z.NEVER;
      }
      out[relayId] = { publicKey: value.public_key, internal: value.internal };
    }
    return out;
  });

const jsonObject = z
  .string()
  .default('{}')
  .transform((s, ctx) => {
    try {
      const v: unknown = JSON.parse(s);
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
    return z.NEVER;
  });

const featureNames = list.transform((names, ctx) => {
  const unknown = names.filter((n) => !isFeatureName(n));
  if (unknown.length > 0) {
    ctx.addIssue({ code: 'custom', message: `unknown feature flag(s): ${unknown.join(', ')}` });
    return z.NEVER;
  }
  return [...new Set(names)] as FeatureName[];
});

/** `host:port` or a `redis://` / `rediss://` URL with optional credentials, comma-separated. */
const clusterNodes = list.transform((items, ctx) => {
  const nodes: RedisClusterNode[] = [];
  for (const item of items) {
    const withScheme = /^[a-z]+:\/\//i.test(item) ? item : `redis://${item}`;
    let u: URL;
    try {
      u = new URL(withScheme);
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${item}" is not host:port or a redis:// URL` });
      return z.NEVER;
    }
    if ((u.protocol !== 'redis:' && u.protocol !== 'rediss:') || !u.hostname || !u.port || (u.pathname !== '' && u.pathname !== '/')) {
      ctx.addIssue({ code: 'custom', message: `"${item}" is not host:port or a redis:// / rediss:// URL with a port` });
      return z.NEVER;
    }
    const node: RedisClusterNode = { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port), tls: u.protocol === 'rediss:' };
    if (u.username) node.username = decodeURIComponent(u.username);
    if (u.password) node.password = decodeURIComponent(u.password);
    nodes.push(node);
  }
  return nodes;
});

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  DATABASE_URL: url(['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/postgres'),
  REDIS_URL: url(['redis:', 'rediss:'], 'redis://127.0.0.1:6379/0'),
  // A brace would make the prefix a hash tag of its own and put every key in one cluster slot.
  REDIS_KEY_PREFIX: z.string().regex(/^[^{}]*$/, 'must not contain { or }').default(''),
  REDIS_CLUSTER_NODES: clusterNodes.default([]),
  PORT: int(3000, 0, 65535),
  WORKER_PORT: int(3001, 0, 65535),
  SYSTEM_URL_PREFIX: urlPrefix,
  SYSTEM_SECRET_KEY: z.string().default(''),
  RELAY_WHITELIST_PK: relayPublicKeys.default([]),
  RELAY_STATIC_AUTH: staticAuth,
  INTERNAL_SYSTEM_IPS: cidrs.default([]),
  TRUST_PROXY: trustProxy,
  RELAY_OPEN_REGISTRATION: bool(true),
  RELAY_ALLOW_TRUSTED: bool(false),
  ALLOWED_ORIGINS: list.default([]),
  CONFIG_CACHE_TTL_S: int(3600, 1, 30 * 24 * 3600),
  BUILD_CLAIM_TTL_S: int(10, 1, 3600),
  BUILD_BATCH_SIZE: int(500, 1, 500),
  WORKER_CONCURRENCY: int(4, 1, 1000),
  INVALIDATION_DELAY_MS: int(500, 0, 600_000),
  OUTBOX_POLL_MS: int(200, 10, 60_000),
  BULL_BOARD_USER: z.string().default(''),
  BULL_BOARD_PASSWORD: z.string().default(''),
  BULL_BOARD_READ_ONLY: bool(true),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  RELAY_GLOBAL_CONFIG: jsonObject,
  // "none" turns every default flag off (an empty value means "use the default" here).
  DEFAULT_FEATURES: z.string().default(DEFAULT_FEATURES.join(',')).transform((s) => (s.trim() === 'none' ? '' : s)).pipe(featureNames),
  EVENT_RETENTION_DAYS: int(90, 0, 3650),
  RELAY_REGISTER_RATE_LIMIT: int(300, 0, 1_000_000),
  RELAY_PRUNE_AFTER_DAYS: int(30, 0, 36_500),
  JOBS_KEEP_COMPLETED_S: int(3600, 0, 30 * 24 * 3600),
  JOBS_KEEP_COMPLETED_COUNT: int(1000, 0, 1_000_000),
  JOBS_KEEP_FAILED_S: int(604_800, 0, 365 * 24 * 3600),
});

/** The environment variable of every setting, e.g. for checking what a deployment file sets. */
export const SETTING_NAMES: readonly string[] = Object.keys(schema.shape);

/**
 * Reads and validates the settings. Throws a `SettingsError` naming every bad key at once.
 * Empty strings count as unset, as a shell `FOO=` usually means "use the default".
 */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const input: Record<string, string> = {};
  for (const key of SETTING_NAMES) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = schema.safeParse(input);
  const problems: { key: string; message: string }[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? '(settings)');
      const message = issue.code === 'invalid_value' ? `must be one of ${issue.values.join(', ')}` : issue.message;
      problems.push({ key, message });
    }
  }
  const data = parsed.success ? parsed.data : undefined;
  if (problems.length > 0 || !data) throw new SettingsError(problems);
  return {
    nodeEnv: data.NODE_ENV,
    databaseUrl: data.DATABASE_URL,
    redisUrl: data.REDIS_URL,
    redisKeyPrefix: data.REDIS_KEY_PREFIX,
    redisClusterNodes: data.REDIS_CLUSTER_NODES,
    port: data.PORT,
    workerPort: data.WORKER_PORT,
    systemUrlPrefix: data.SYSTEM_URL_PREFIX ?? `http://localhost:${data.PORT}`,
    systemSecretKey: data.SYSTEM_SECRET_KEY === '' ? null : data.SYSTEM_SECRET_KEY,
    relayWhitelistPk: data.RELAY_WHITELIST_PK,
    relayStaticAuth: data.RELAY_STATIC_AUTH,
    internalSystemIps: data.INTERNAL_SYSTEM_IPS,
    trustProxy: data.TRUST_PROXY,
    relayOpenRegistration: data.RELAY_OPEN_REGISTRATION,
    relayAllowTrusted: data.RELAY_ALLOW_TRUSTED,
    allowedOrigins: data.ALLOWED_ORIGINS,
    configCacheTtlS: data.CONFIG_CACHE_TTL_S,
    buildClaimTtlS: data.BUILD_CLAIM_TTL_S,
    buildBatchSize: data.BUILD_BATCH_SIZE,
    workerConcurrency: data.WORKER_CONCURRENCY,
    invalidationDelayMs: data.INVALIDATION_DELAY_MS,
    outboxPollMs: data.OUTBOX_POLL_MS,
    bullBoardUser: data.BULL_BOARD_USER,
    bullBoardPassword: data.BULL_BOARD_PASSWORD,
    bullBoardReadOnly: data.BULL_BOARD_READ_ONLY,
    logLevel: data.LOG_LEVEL,
    globalConfig: mergeGlobalConfig(data.RELAY_GLOBAL_CONFIG),
    defaultFeatures: data.DEFAULT_FEATURES,
    eventRetentionDays: data.EVENT_RETENTION_DAYS,
    relayRegisterRateLimit: data.RELAY_REGISTER_RATE_LIMIT,
    relayPruneAfterDays: data.RELAY_PRUNE_AFTER_DAYS,
    jobsKeepCompletedS: data.JOBS_KEEP_COMPLETED_S,
    jobsKeepCompletedCount: data.JOBS_KEEP_COMPLETED_COUNT,
    jobsKeepFailedS: data.JOBS_KEEP_FAILED_S,
  };
}

