import { mergePiiConfigs, parsePiiConfig } from '../options/pii-config';
import { resolveOption, type TrustedRelay } from '../options/registry';
import type {
  BuildContext,
  DataScrubbingSettings,
  DisabledConfig,
  FilterSettings,
  KeyRow,
  ProjectConfig,
  ProjectConfigBody,
  ProjectConfigInput,
  Quota,
} from './types';

/**
 * The config builder: a pure function from loaded rows to the project config Relay parses
 * (CONFIG.md). No I/O; "now", the server settings and the rev come in through `BuildContext`.
 */

export const DISABLED_CONFIG: DisabledConfig = Object.freeze({ disabled: true as const });

/** Health-check transaction names dropped by the `filtered-transaction` filter. */
export const HEALTH_CHECK_PATTERNS = [
  '*healthcheck*',
  '*healthy*',
  '*live*',
  '*ready*',
  '*heartbeat*',
  '*/health',
  '*/healthz',
  '*/ping',
];

/** CSP report sources that are noise from browsers and extensions, dropped unless turned off. */
export const DEFAULT_CSP_DISALLOWED_SOURCES = [
  'about',
  'ms-browser-extension',
  'chrome://*',
  'chrome-extension://*',
  'chromeinvokeimmediate://*',
  'chromenull://*',
  'data:text/html,chromewebdata',
  'safari-extension://*',
  'safari-web-extension://*',
  'mxaddon-pkg://*',
  'jar://*',
  'webviewprogressproxy://*',
  'ms-browser-extension://*',
  'tmtbff://*',
  'mbinit://*',
  'symres://*',
  'resource://*',
  'moz-extension://*',
  '*.metrics.itunes.apple.com',
  'blob:',
];

const KEY_QUOTA_CATEGORIES = ['default', 'error', 'security'];

/** Builds the config of one public key; `{"disabled":true}` for unknown or inactive keys and projects. */
export function buildProjectConfig(input: ProjectConfigInput, ctx: BuildContext): ProjectConfig {
  const { key, project, organization } = input;
  if (!key || key.status !== 'active' || !project || project.status !== 'active' || !organization || organization.status !== 'active') {
    return DISABLED_CONFIG;
  }
  const now = ctx.now.toISOString();
  const listedKeys = input.projectKeys ? orderedActiveKeys(input.projectKeys, key) : [key];
  return {
    disabled: false,
    projectId: project.id,
    organizationId: organization.id,
    slug: project.slug,
    lastChange: now,
    lastFetch: now,
    rev: ctx.newRev(),
    publicKeys: listedKeys.map((k) => ({ publicKey: k.publicKey, numericId: k.id, isEnabled: true as const })),
    config: buildConfigBody(input, key, ctx),
  };
}

/** The requested key first (Relay requires it), then the project's other active keys. */
function orderedActiveKeys(all: KeyRow[], requested: KeyRow): KeyRow[] {
  return [requested, ...all.filter((k) => k.status === 'active' && k.publicKey !== requested.publicKey)];
}

function buildConfigBody(input: ProjectConfigInput, key: KeyRow, ctx: BuildContext): ProjectConfigBody {
  const projectOption = <T>(name: string) => resolveOption<T>(name, input.projectOptions, input.templateOptions);
  const orgOption = <T>(name: string) => resolveOption<T>(name, input.organizationOptions);

  // Fields are assigned in CONFIG.md's order, which keeps stored configs easy to read.
  const body = {
    allowedDomains: allowedDomains(projectOption<string[]>('sentry:origins'), ctx.allowedOrigins),
    trustedRelays: orgOption<TrustedRelay[]>('sentry:trusted-relays').map((relay) => relay.publicKey),
    piiConfig: mergePiiConfigs([
      { prefix: 'organization:', config: parsePiiConfig(orgOption('sentry:relay_pii_config')) },
      { prefix: 'project:', config: parsePiiConfig(projectOption('sentry:relay_pii_config')) },
    ]),
    datascrubbingSettings: dataScrubbingSettings(orgOption, projectOption),
  } as ProjectConfigBody;
  const filters = filterSettings(projectOption);
  if (Object.keys(filters).length > 0) body.filterSettings = filters;
  const quotas = keyQuotas(key);
  if (quotas.length > 0) body.quotas = quotas;
  const retention = orgOption<number | null>('sentry:event_retention');
  if (typeof retention === 'number') body.eventRetention = retention;
  const features = unique([...orgOption<string[]>('sentry:features'), ...projectOption<string[]>('sentry:features')]);
  if (features.length > 0) body.features = features;
  body.breakdownsV2 = projectOption<Record<string, unknown>>('sentry:breakdowns');
  return body;
}

/** Project origins plus the server's; lower-cased, without trailing `/`, no empties, unique. A server `*` wins. */
export function allowedDomains(projectOrigins: readonly string[], serverOrigins: readonly string[]): string[] {
  const normalise = (origins: readonly string[]) =>
    origins.map((o) => o.trim().toLowerCase().replace(/\/+$/, '')).filter((o) => o.length > 0);
  const server = normalise(serverOrigins);
  if (server.includes('*')) return ['*'];
  return unique([...normalise(projectOrigins), ...server]);
}

type OptionLookup = <T>(name: string) => T;

function dataScrubbingSettings(orgOption: OptionLookup, projectOption: OptionLookup): DataScrubbingSettings {
  return {
    excludeFields: [...orgOption<string[]>('sentry:safe_fields'), ...projectOption<string[]>('sentry:safe_fields')],
    scrubData: orgOption<boolean>('sentry:require_scrub_data') || projectOption<boolean>('sentry:scrub_data'),
    scrubIpAddresses: orgOption<boolean>('sentry:require_scrub_ip_address') || projectOption<boolean>('sentry:scrub_ip_address'),
    sensitiveFields: [...orgOption<string[]>('sentry:sensitive_fields'), ...projectOption<string[]>('sentry:sensitive_fields')],
    scrubDefaults: orgOption<boolean>('sentry:require_scrub_defaults') || projectOption<boolean>('sentry:scrub_defaults'),
  };
}

function filterSettings(projectOption: OptionLookup): FilterSettings {
  const filters: FilterSettings = {};
  const on = (name: string) => projectOption<string>(name) === '1';
  if (on('filters:browser-extensions')) filters.browserExtensions = { isEnabled: true };
  if (on('filters:localhost')) filters.localhost = { isEnabled: true };
  if (on('filters:web-crawlers')) filters.webCrawlers = { isEnabled: true };
  const legacy = projectOption<'0' | '1' | string[]>('filters:legacy-browsers');
  const legacyOptions = legacy === '1' ? ['default'] : Array.isArray(legacy) ? legacy : [];
  if (legacyOptions.length > 0) filters.legacyBrowsers = { isEnabled: true, options: legacyOptions };
  if (on('filters:filtered-transaction')) filters.ignoreTransactions = { patterns: HEALTH_CHECK_PATTERNS, isEnabled: true };
  const errorMessages = projectOption<string[]>('sentry:error_messages');
  if (errorMessages.length > 0) filters.errorMessages = { patterns: errorMessages };
  const releases = projectOption<string[]>('sentry:releases');
  if (releases.length > 0) filters.releases = { releases };
  const blacklistedIps = projectOption<string[]>('sentry:blacklisted_ips');
  if (blacklistedIps.length > 0) filters.clientIps = { blacklistedIps };
  const csp = unique([
    ...(projectOption<boolean>('sentry:csp_ignored_sources_defaults') ? DEFAULT_CSP_DISALLOWED_SOURCES : []),
    ...projectOption<string[]>('sentry:csp_ignored_sources'),
  ]);
  if (csp.length > 0) filters.csp = { disallowedSources: csp };
  return filters;
}

/** A key rate limit as a Relay quota (count per window, key scope). */
function keyQuotas(key: KeyRow): Quota[] {
  const count = key.rateLimitCount;
  const window = key.rateLimitWindow;
  if (count === null || count === undefined || !window) return [];
  return [
    {
      id: 'k',
      scope: 'key',
      scopeId: String(key.id),
      categories: KEY_QUOTA_CATEGORIES,
      limit: count,
      window,
      reasonCode: 'key_quota',
    },
  ];
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
