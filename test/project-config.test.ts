import { describe, expect, it } from 'vitest';
import { DEFAULT_BREAKDOWNS } from '../src/options/registry';
import { allowedDomains, buildProjectConfig, DEFAULT_CSP_DISALLOWED_SOURCES, HEALTH_CHECK_GLOBS } from '../src/relay-config/project-config';
import { GENERIC_FILTERS } from '../src/relay-config/sections/filter-settings';
import type { BuildContext, EnabledConfig, ProjectConfigInput } from '../src/relay-config/types';

const ctx: BuildContext = {
  now: new Date('2026-11-25T10:00:00.000Z'),
  allowedOrigins: [],
  newRev: () => '0123456789abcdef0123456789abcdef',
  defaultFeatures: new Set(['projects:custom-inbound-filters', 'projects:rate-limits']),
  eventRetentionDays: 0,
};
const DEFAULT_GENERIC = {
  version: 1,
  filters: [
    { id: 'chunk-load-error', isEnabled: true, condition: GENERIC_FILTERS['chunk-load-error'] },
    { id: 'react-hydration-errors', isEnabled: true, condition: GENERIC_FILTERS['react-hydration-errors'] },
  ],
};
const HEALTH_CHECKS = { patterns: HEALTH_CHECK_GLOBS, isEnabled: true };
const PK = 'a'.repeat(32);

function input(overrides: Partial<ProjectConfigInput> = {}, options: { org?: Record<string, unknown>; project?: Record<string, unknown>; template?: Record<string, unknown> | null } = {}): ProjectConfigInput {
  return {
    publicKey: PK,
    key: { id: 7, publicKey: PK, status: 'active', rateLimitCount: null, rateLimitWindow: null },
    project: { id: 42, slug: 'web', status: 'active' },
    organization: { id: 3, slug: 'acme', status: 'active' },
    organizationOptions: new Map(Object.entries(options.org ?? {})),
    projectOptions: new Map(Object.entries(options.project ?? {})),
    templateOptions: options.template ? new Map(Object.entries(options.template)) : null,
    ...overrides,
  };
}

function enabled(i: ProjectConfigInput, c: BuildContext = ctx): EnabledConfig {
  const config = buildProjectConfig(i, c);
  if (config.disabled) throw new Error('expected an enabled config');
  return config;
}

/** Every object key in a value, with its path, skipping the subtree under `breakdownsV2`. */
function objectKeys(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => objectKeys(v, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => (k === 'breakdownsV2' ? [k] : [k, ...objectKeys(v, `${path}.${k}`)]));
}

describe('buildProjectConfig: disabled configs', () => {
  it.each([
    ['the key is unknown', input({ key: null, project: null, organization: null })],
    ['the key is inactive', input({ key: { id: 7, publicKey: PK, status: 'inactive' } })],
    ['the project is pending deletion', input({ project: { id: 42, slug: 'web', status: 'pending_deletion' } })],
    ['the organization is pending deletion', input({ organization: { id: 3, slug: 'acme', status: 'pending_deletion' } })],
  ])('is exactly {"disabled":true} when %s', (_, i) => {
    expect(JSON.stringify(buildProjectConfig(i, ctx))).toBe('{"disabled":true}');
  });
});

describe('buildProjectConfig: top level', () => {
  it('carries ids, slug, times with Z, the rev and the requested key first', () => {
    const config = enabled(input());
    expect(config).toMatchObject({
      disabled: false,
      projectId: 42,
      organizationId: 3,
      slug: 'web',
      lastChange: '2026-11-25T10:00:00.000Z',
      lastFetch: '2026-11-25T10:00:00.000Z',
      rev: '0123456789abcdef0123456789abcdef',
      publicKeys: [{ publicKey: PK, numericId: 7, isEnabled: true }],
    });
  });

  it('lists every active key of the project with the requested one first (v1)', () => {
    const other = { id: 8, publicKey: 'b'.repeat(32), status: 'active' as const };
    const inactive = { id: 9, publicKey: 'c'.repeat(32), status: 'inactive' as const };
    const requested = { id: 7, publicKey: PK, status: 'active' as const };
    const config = enabled(input({ key: requested, projectKeys: [other, inactive, requested] }));
    expect(config.publicKeys.map((k) => k.publicKey)).toEqual([PK, 'b'.repeat(32)]);
  });

  it('uses a fresh rev per computation', () => {
    let n = 0;
    const counting = { ...ctx, newRev: () => `rev${++n}` };
    expect(enabled(input(), counting).rev).not.toBe(enabled(input(), counting).rev);
  });
});

describe('buildProjectConfig: allowedDomains', () => {
  it('defaults to ["*"]', () => {
    expect(enabled(input()).config.allowedDomains).toEqual(['*']);
  });

  it('lower-cases, drops trailing slashes and empties, de-duplicates and adds the server origins', () => {
    const config = enabled(input({}, { project: { 'sentry:origins': ['HTTPS://App.Example.com/', '', 'https://app.example.com', 'http://x.test//'] } }), {
      ...ctx,
      allowedOrigins: ['https://admin.example.com/'],
    });
    expect(config.config.allowedDomains).toEqual(['https://app.example.com', 'http://x.test', 'https://admin.example.com']);
  });

  it('gives ["*"] when the server allows every origin', () => {
    expect(allowedDomains(['https://a.example'], ['*'])).toEqual(['*']);
  });
});

describe('buildProjectConfig: trustedRelays', () => {
  it('lists the public keys of the organization option in stored order, [] when unset', () => {
    expect(enabled(input()).config.trustedRelays).toEqual([]);
    const relays = ['k2', 'k1'].map((publicKey) => ({ publicKey, name: publicKey, description: '', created: '', lastModified: '' }));
    expect(enabled(input({}, { org: { 'sentry:trusted-relays': relays } })).config.trustedRelays).toEqual(['k2', 'k1']);
  });
});

describe('buildProjectConfig: piiConfig', () => {
  it('is {} when neither level sets one, and ignores invalid JSON', () => {
    expect(enabled(input()).config.piiConfig).toEqual({});
    expect(enabled(input({}, { org: { 'sentry:relay_pii_config': '{not json' } })).config.piiConfig).toEqual({});
  });

  it('prefixes rule names, rewrites references (applications and multiple rules), keeps built-ins, organization first', () => {
    const org = JSON.stringify({
      rules: { tokens: { type: 'pattern', pattern: 'tok' }, both: { type: 'multiple', rules: ['tokens', '@ip:remove'] } },
      applications: { $string: ['both', '@creditcard:mask'] },
    });
    const project = JSON.stringify({ rules: { tokens: { type: 'pattern', pattern: 'ptok' } }, applications: { $string: ['tokens'], $user: ['@email'] } });
    const config = enabled(input({}, { org: { 'sentry:relay_pii_config': org }, project: { 'sentry:relay_pii_config': project } }));
    expect(config.config.piiConfig).toEqual({
      rules: {
        'organization:tokens': { type: 'pattern', pattern: 'tok' },
        'organization:both': { type: 'multiple', rules: ['organization:tokens', '@ip:remove'] },
        'project:tokens': { type: 'pattern', pattern: 'ptok' },
      },
      applications: { $string: ['organization:both', '@creditcard:mask', 'project:tokens'], $user: ['@email'] },
    });
    expect(Object.keys(config.config.piiConfig.rules!)[0]).toBe('organization:tokens');
  });
});

describe('buildProjectConfig: datascrubbingSettings', () => {
  it('uses the defaults, leaving a false scrubIpAddresses out as Relay serializes it', () => {
    const settings = enabled(input()).config.datascrubbingSettings;
    expect(settings).toEqual({ excludeFields: [], scrubData: true, sensitiveFields: [], scrubDefaults: true });
    expect(settings).not.toHaveProperty('scrubIpAddresses');
  });

  it('ORs organization requirements with project settings and concatenates lists organization first', () => {
    const config = enabled(
      input({}, {
        org: { 'sentry:require_scrub_data': true, 'sentry:require_scrub_ip_address': true, 'sentry:require_scrub_defaults': true, 'sentry:safe_fields': ['o1'], 'sentry:sensitive_fields': ['os'] },
        project: { 'sentry:scrub_data': false, 'sentry:scrub_defaults': false, 'sentry:safe_fields': ['p1'], 'sentry:sensitive_fields': ['ps'] },
      }),
    );
    expect(config.config.datascrubbingSettings).toEqual({ excludeFields: ['o1', 'p1'], scrubData: true, scrubIpAddresses: true, sensitiveFields: ['os', 'ps'], scrubDefaults: true });
  });

  it('lets a project turn scrubbing off when the organization does not require it', () => {
    const config = enabled(input({}, { project: { 'sentry:scrub_data': false, 'sentry:scrub_defaults': false, 'sentry:scrub_ip_address': true } }));
    expect(config.config.datascrubbingSettings).toEqual({ excludeFields: [], sensitiveFields: [], scrubDefaults: false, scrubIpAddresses: true });
  });
});

describe('buildProjectConfig: filterSettings', () => {
  it("holds Sentry's new-project defaults: health checks, the two generic filters and the 56 CSP sources", () => {
    expect(enabled(input()).config.filterSettings).toEqual({ ignoreTransactions: HEALTH_CHECKS, generic: DEFAULT_GENERIC, csp: { disallowedSources: DEFAULT_CSP_DISALLOWED_SOURCES } });
    expect(DEFAULT_CSP_DISALLOWED_SOURCES).toHaveLength(56);
    expect(HEALTH_CHECK_GLOBS).toHaveLength(14);
  });

  it('is absent when every filter is off and the CSP defaults are off', () => {
    const off = { 'filters:filtered-transaction': '0', 'filters:chunk-load-error': '0', 'filters:react-hydration-errors': '0', 'sentry:csp_ignored_sources_defaults': false };
    expect(enabled(input({}, { project: off })).config).not.toHaveProperty('filterSettings');
  });

  it('leaves generic out when both generic filters are off, and keeps the other one when one is', () => {
    expect(enabled(input({}, { project: { 'filters:chunk-load-error': '0', 'filters:react-hydration-errors': '0' } })).config.filterSettings).not.toHaveProperty('generic');
    const one = enabled(input({}, { project: { 'filters:chunk-load-error': '0' } })).config.filterSettings!.generic as { filters: { id: string }[] };
    expect(one.filters.map((f) => f.id)).toEqual(['react-hydration-errors']);
  });

  it('puts custom filters behind projects:custom-inbound-filters, log and trace-metric ones also behind their ingestion flags', () => {
    const project = { 'sentry:releases': ['1.0-beta'], 'sentry:error_messages': ['*timeout*'], 'sentry:log_messages': ['*noise*'], 'sentry:trace_metric_names': ['debug.*'] };
    const without = enabled(input({}, { project }), { ...ctx, defaultFeatures: new Set() }).config.filterSettings!;
    expect(without).not.toHaveProperty('releases');
    expect(without).not.toHaveProperty('errorMessages');
    const withCustom = enabled(input({}, { project }), { ...ctx, defaultFeatures: new Set(['projects:custom-inbound-filters']) }).config.filterSettings!;
    expect(withCustom).toMatchObject({ releases: { releases: ['1.0-beta'] }, errorMessages: { patterns: ['*timeout*'] } });
    expect((withCustom.generic as { filters: unknown[] }).filters).toHaveLength(2);
    const all = enabled(input({}, { project }), { ...ctx, defaultFeatures: new Set(['projects:custom-inbound-filters', 'organizations:ourlogs-ingestion', 'organizations:tracemetrics-ingestion']) }).config.filterSettings!;
    expect((all.generic as { filters: unknown[] }).filters.slice(2)).toEqual([
      { id: 'log-message', isEnabled: true, condition: { op: 'glob', name: 'log.body', value: ['*noise*'] } },
      { id: 'trace-metric-name', isEnabled: true, condition: { op: 'glob', name: 'trace_metric.name', value: ['debug.*'] } },
    ]);
  });

  it('keeps only Sentry health checks: /deliveries and /readme pass, /health/ and /api/ping do not', () => {
    const compiled = HEALTH_CHECK_GLOBS.map((g) => {
      const re = g
        .replace(/\\\[/g, '\uE000').replace(/\\\]/g, '\uE001')
        .replace(/[.+^$()|]/g, '\\$&')
        .replace(/\{\/,\}/g, '(/|)')
        .replace(/\*/g, '.*')
        .replace(/\uE000/g, '\\[').replace(/\uE001/g, '\\]');
      return new RegExp(`^${re}$`);
    });
    const matches = (name: string) => compiled.some((re) => re.test(name));
    expect(['/deliveries', '/readme', '/api/live-events', '/uptime'].filter(matches)).toEqual([]);
    expect(['/health/', '/api/ping', '/healthz', '/[_health]', 'GET /heartbeat'].every(matches)).toBe(true);
  });

  it('has one entry per enabled filter', () => {
    const config = enabled(
      input({}, {
        project: {
          'filters:browser-extensions': '1',
          'filters:localhost': '1',
          'filters:web-crawlers': '0',
          'filters:legacy-browsers': '1',
          'filters:filtered-transaction': '1',
          'sentry:error_messages': ['*timeout*'],
          'sentry:releases': ['1.0-beta'],
          'sentry:blacklisted_ips': ['10.0.0.0/8'],
          'sentry:csp_ignored_sources_defaults': false,
          'sentry:csp_ignored_sources': ['https://ads.example'],
        },
      }),
    );
    expect(config.config.filterSettings).toEqual({
      browserExtensions: { isEnabled: true },
      localhost: { isEnabled: true },
      legacyBrowsers: { isEnabled: true, options: ['default'] },
      ignoreTransactions: HEALTH_CHECKS,
      generic: DEFAULT_GENERIC,
      errorMessages: { patterns: ['*timeout*'] },
      releases: { releases: ['1.0-beta'] },
      clientIps: { blacklistedIps: ['10.0.0.0/8'] },
      csp: { disallowedSources: ['https://ads.example'] },
    });
  });

  it('passes a stored list of legacy-browser subfilters through', () => {
    const config = enabled(input({}, { project: { 'filters:legacy-browsers': ['ie9', 'ie10'] } }));
    expect(config.config.filterSettings?.legacyBrowsers).toEqual({ isEnabled: true, options: ['ie9', 'ie10'] });
  });
});

describe('buildProjectConfig: template fallback', () => {
  it('takes the template value when the project has none, and the project value over the template', () => {
    const config = enabled(input({}, { project: { 'filters:localhost': '0' }, template: { 'filters:localhost': '1', 'filters:web-crawlers': '1' } }));
    expect(config.config.filterSettings).toMatchObject({ webCrawlers: { isEnabled: true } });
    expect(config.config.filterSettings).not.toHaveProperty('localhost');
  });
});

describe('buildProjectConfig: quotas, retention, features, breakdowns', () => {
  it('turns a key rate limit into a key quota', () => {
    const config = enabled(input({ key: { id: 7, publicKey: PK, status: 'active', rateLimitCount: 100, rateLimitWindow: 60 } }));
    expect(config.config.quotas).toEqual([{ id: 'k', scope: 'key', scopeId: '7', categories: ['default', 'error', 'security'], limit: 100, window: 60, reasonCode: 'key_quota' }]);
  });

  it('leaves the key quota out without projects:rate-limits', () => {
    const limited = input({ key: { id: 7, publicKey: PK, status: 'active', rateLimitCount: 100, rateLimitWindow: 60 } });
    expect(enabled(limited, { ...ctx, defaultFeatures: new Set() }).config).not.toHaveProperty('quotas');
  });

  it('leaves quotas, eventRetention (server setting 0) and features out when unset', () => {
    const config = enabled(input());
    expect(config.config).not.toHaveProperty('quotas');
    expect(config.config).not.toHaveProperty('eventRetention');
    expect(config.config).not.toHaveProperty('features');
  });

  it("takes eventRetention from the organization, else from the server's EVENT_RETENTION_DAYS", () => {
    expect(enabled(input({}, { org: { 'sentry:event_retention': 30 } })).config.eventRetention).toBe(30);
    expect(enabled(input(), { ...ctx, eventRetentionDays: 90 }).config.eventRetention).toBe(90);
    expect(enabled(input({}, { org: { 'sentry:event_retention': 30 } }), { ...ctx, eventRetentionDays: 90 }).config.eventRetention).toBe(30);
  });

  it("defaults breakdownsV2 to Sentry's span operations", () => {
    expect(enabled(input()).config.breakdownsV2).toEqual(DEFAULT_BREAKDOWNS);
    expect(DEFAULT_BREAKDOWNS).toEqual({ span_ops: { type: 'spanOperations', matches: ['http', 'db', 'browser', 'resource', 'ui'] } });
  });
});

describe('buildProjectConfig: a full config', () => {
  const full = input(
    { key: { id: 7, publicKey: PK, status: 'active', rateLimitCount: 1000, rateLimitWindow: 3600 } },
    {
      org: {
        'sentry:trusted-relays': [{ publicKey: 'JOaR2bHZ31zYjFojC7UhPOidzfT3qOQgT9WEBw1JAKU', name: 'edge', description: '', created: '', lastModified: '' }],
        'sentry:relay_pii_config': JSON.stringify({ rules: { ccs: { type: 'creditcard', redaction: { method: 'mask' } } }, applications: { $string: ['ccs'] } }),
        'sentry:sensitive_fields': ['ssn'],
        'sentry:require_scrub_ip_address': true,
        'sentry:event_retention': 90,
        'sentry:feature_overrides': { 'organizations:session-replay': true },
      },
      project: {
        'sentry:origins': ['https://app.example.com'],
        'sentry:safe_fields': ['orderId'],
        'filters:localhost': '1',
        'sentry:blacklisted_ips': ['192.0.2.1'],
        'sentry:csp_ignored_sources_defaults': false,
      },
      template: { 'filters:browser-extensions': '1' },
    },
  );

  it('matches the snapshot', () => {
    expect(buildProjectConfig(full, ctx)).toMatchSnapshot();
  });

  it('has no "_" or "-" in any key outside breakdownsV2', () => {
    const keys = objectKeys(buildProjectConfig(full, ctx));
    expect(keys.length).toBeGreaterThan(30);
    expect(keys.filter((k) => /[_-]/.test(k))).toEqual([]);
  });
});
