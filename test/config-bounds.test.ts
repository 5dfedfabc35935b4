import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_DEFINITIONS } from '../src/options/features';
import type { Container } from '../src/container';
import {
  BREAKDOWNS_BOUNDS,
  FIXED_CONFIG_BYTES,
  LIST_BOUNDS,
  MAX_CONFIG_BYTES,
  MAX_TENANT_CONFIG_BYTES,
  PII_CONFIG_BOUNDS,
  TRUSTED_RELAY_BOUNDS,
  type BoundedListOption,
} from '../src/options/bounds';
import { validateOption, type OptionScope } from '../src/options/registry';
import { generateRelayKeyPair } from '../src/relay-auth/keys';
import { buildProjectConfig } from '../src/relay-config/project-config';
import type { EnabledConfig } from '../src/relay-config/types';
import { createOrgWithProject, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';

/** Tenant input that ends up in configs is bounded (bounds.ts); refusals are 400 field errors. */

let container: Container;
let api: ApiClient;

beforeAll(async () => {
  container = await testContainer({ INVALIDATION_DELAY_MS: '60000' });
  const { token } = await userWithToken(container);
  api = await startApi(container, token);
  await createOrgWithProject(api, token, 'bounds');
});

afterAll(async () => {
  await api.close();
  await container.close();
});

const putProject = (body: unknown) => api.put('/api/0/projects/bounds/web/', body);
const putOrg = (body: unknown) => api.put('/api/0/organizations/bounds/', body);
const relay = (n: number, extra: Record<string, unknown> = {}) => ({ publicKey: generateRelayKeyPair().public, name: `edge ${n}`, ...extra });
/** `count` strings of `chars` characters each. */
const strings = (count: number, chars: number, char = 'a') => Array.from({ length: count }, () => char.repeat(chars));

describe('PII configs with inherited property names', () => {
  it.each([
    ['a project selector "constructor"', putProject, '{"applications":{"constructor":["@ip:remove"]}}', 'selector "constructor"'],
    ['an organization selector "toString"', putOrg, '{"applications":{"toString":["@ip:remove"]}}', 'selector "toString"'],
    ['a project rule named "__proto__"', putProject, '{"rules":{"__proto__":{"type":"pattern","pattern":"x"}},"applications":{"$string":["__proto__"]}}', 'rule name "__proto__"'],
    ['an organization rule named "hasOwnProperty"', putOrg, '{"rules":{"hasOwnProperty":{"type":"ip"}}}', 'rule name "hasOwnProperty"'],
  ])('refuses %s with 400 naming relayPiiConfig and the name', async (_, put, relayPiiConfig, what) => {
    const res = await put({ relayPiiConfig });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body)).toEqual(['relayPiiConfig']);
    expect(res.body.relayPiiConfig[0]).toContain(`Invalid PII config: ${what} is a reserved name`);
  });

  it('refuses an inherited breakdown name with 400 under options', async () => {
    const res = await putProject({ options: { 'sentry:breakdowns': { constructor: { type: 'span_operations', matches: ['http'] } } } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ options: [expect.stringContaining('breakdown name "constructor" is a reserved name')] });
  });
});

describe('size bounds: 400 field errors', () => {
  const { maxItems, maxNameChars, maxDescriptionChars } = TRUSTED_RELAY_BOUNDS;
  it.each([
    ['too many trusted relays', { trustedRelays: Array.from({ length: maxItems + 1 }, (_, i) => relay(i)) }, `Ensure this field has no more than ${maxItems} elements.`],
    ['a trusted relay name that is too long', { trustedRelays: [relay(1, { name: 'n'.repeat(maxNameChars + 1) })] }, `Relay key info with a name over ${maxNameChars} characters in Trusted Relays`],
    ['a 1 MB trusted relay name', { trustedRelays: [relay(1, { name: 'n'.repeat(1_000_000) })] }, `Relay key info with a name over ${maxNameChars} characters in Trusted Relays`],
    [
      'a trusted relay description that is too long',
      { trustedRelays: [relay(1, { description: 'd'.repeat(maxDescriptionChars + 1) })] },
      `Relay key info with a description over ${maxDescriptionChars} characters in Trusted Relays`,
    ],
  ])('organization: refuses %s', async (_, body, message) => {
    const res = await putOrg(body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ trustedRelays: [message] });
  });

  it('organization: accepts the largest trusted relay list', async () => {
    const res = await putOrg({ trustedRelays: Array.from({ length: maxItems }, (_, i) => relay(i, { name: 'n'.repeat(maxNameChars), description: 'd'.repeat(maxDescriptionChars) })) });
    expect(res.status).toBe(200);
    expect(res.body.trustedRelays).toHaveLength(maxItems);
  });

  const sensitive = LIST_BOUNDS['sentry:sensitive_fields'];
  const origins = LIST_BOUNDS['sentry:origins'];
  it.each([
    ['sensitiveFields over 4000 characters in total', putOrg, 'sensitiveFields', { sensitiveFields: strings(21, 200) }, 'The list is too long: at most 4000 characters in total.'],
    ['too many sensitiveFields', putProject, 'sensitiveFields', { sensitiveFields: strings(sensitive.maxItems + 1, 1) }, `Ensure this field has no more than ${sensitive.maxItems} elements.`],
    ['a sensitive field that is too long', putProject, 'sensitiveFields', { sensitiveFields: strings(1, sensitive.maxItemChars + 1) }, `Ensure each entry has no more than ${sensitive.maxItemChars} characters.`],
    ['safeFields over 4000 characters in total', putProject, 'safeFields', { safeFields: strings(21, 200) }, 'The list is too long: at most 4000 characters in total.'],
    ['too many safeFields', putOrg, 'safeFields', { safeFields: strings(LIST_BOUNDS['sentry:safe_fields'].maxItems + 1, 1) }, 'Ensure this field has no more than'],
    ['too many allowedDomains', putProject, 'allowedDomains', { allowedDomains: strings(origins.maxItems + 1, 5).map((d, i) => `${d}${i}.com`) }, `Ensure this field has no more than ${origins.maxItems} elements.`],
    ['an allowed domain that is too long', putProject, 'allowedDomains', { allowedDomains: [`${'a'.repeat(origins.maxItemChars)}.com`] }, `Ensure each entry has no more than ${origins.maxItemChars} characters.`],
    ['a PII config text over 64 KiB', putProject, 'relayPiiConfig', { relayPiiConfig: JSON.stringify({ rules: { big: { type: 'pattern', pattern: 'x'.repeat(PII_CONFIG_BOUNDS.maxTextBytes) } } }) }, 'The PII config is too large: at most 65536 bytes of JSON text.'],
    [
      'a PII config with too many rules',
      putOrg,
      'relayPiiConfig',
      { relayPiiConfig: JSON.stringify({ rules: Object.fromEntries(Array.from({ length: PII_CONFIG_BOUNDS.maxRules + 1 }, (_, i) => [`r${i}`, { type: 'ip' }])) }) },
      `The PII config has too many rules: at most ${PII_CONFIG_BOUNDS.maxRules}.`,
    ],
    [
      'a PII config that grows over the bound once prefixed',
      putProject,
      'relayPiiConfig',
      // 60 KB of text; every one-letter reference gains the 13-character prefix.
      { relayPiiConfig: JSON.stringify({ rules: { a: { type: 'ip' } }, applications: { $string: Array.from({ length: 15_000 }, () => 'a') } }) },
      'The PII config is too large once its rule names are prefixed: at most 65536 bytes.',
    ],
  ])('refuses %s', async (_, put, field, body, message) => {
    const res = await put(body);
    expect(res.status).toBe(400);
    expect(Object.keys(res.body)).toEqual([field]);
    expect(res.body[field][0]).toContain(message);
  });

  it.each([
    ['sentry:error_messages', strings(LIST_BOUNDS['sentry:error_messages'].maxItems + 1, 1)],
    ['sentry:releases', strings(1, LIST_BOUNDS['sentry:releases'].maxItemChars + 1)],
    ['sentry:csp_ignored_sources', strings(100, 101)],
    ['sentry:blacklisted_ips', Array.from({ length: LIST_BOUNDS['sentry:blacklisted_ips'].maxItems + 1 }, (_, i) => `10.0.${i >> 8}.${i & 255}`)],
    ['sentry:transaction_metrics_custom_tags', strings(LIST_BOUNDS['sentry:transaction_metrics_custom_tags'].maxItems + 1, 5)],
    ['sentry:log_messages', strings(1, LIST_BOUNDS['sentry:log_messages'].maxItemChars + 1)],
    ['sentry:trace_metric_names', strings(LIST_BOUNDS['sentry:trace_metric_names'].maxItems + 1, 1)],
    ['filters:legacy-browsers', Array.from({ length: 11 }, () => 'ie9')],
    ['sentry:breakdowns', Object.fromEntries(Array.from({ length: BREAKDOWNS_BOUNDS.maxEntries + 1 }, (_, i) => [`b${i}`, { type: 'span_operations', matches: ['http'] }]))],
    ['sentry:breakdowns', { big: { type: 'span_operations', matches: strings(1, BREAKDOWNS_BOUNDS.maxJsonBytes) } }],
  ])('options: refuses %s over its bound with 400 under options', async (key, value) => {
    const res = await putProject({ options: { [key]: value } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ options: [expect.stringContaining(`Invalid value for "${key}"`)] });
  });
});

describe('the largest config a tenant can make', () => {
  /** A value at its bound, checked by the same validation the API runs. */
  const valid = (scope: OptionScope, key: string, value: unknown) => validateOption(scope, key, value);

  /** The list of an option at every bound at once, with characters that take the most JSON bytes. */
  function largestList(option: BoundedListOption, item: (i: number) => string = () => '\u0001'.repeat(LIST_BOUNDS[option].maxItemChars)): string[] {
    const { maxItems, maxItemChars, maxTotalChars } = LIST_BOUNDS[option];
    const list: string[] = [];
    let left = maxTotalChars;
    for (let i = 0; i < maxItems; i++) {
      const chars = Math.max(0, Math.min(maxItemChars, left - (maxItems - i - 1)));
      const entry = item(i).slice(0, Math.max(chars, 1));
      list.push(entry);
      left -= entry.length;
    }
    return list;
  }

  /** The largest PII config (by merged size) that validation accepts: long patterns of escaped characters. */
  function largestPii(): string {
    const make = (n: number) => JSON.stringify({ rules: Object.fromEntries(Array.from({ length: PII_CONFIG_BOUNDS.maxRules }, (_, i) => [`r${i}`, { type: 'pattern', pattern: '\u0001'.repeat(n) }])) });
    let [low, high] = [1, 1000];
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      try {
        valid('project', 'sentry:relay_pii_config', make(mid));
        low = mid;
      } catch {
        high = mid - 1;
      }
    }
    return valid('project', 'sentry:relay_pii_config', make(low)) as string;
  }

  it(`stays under the bound stated by the table (${MAX_TENANT_CONFIG_BYTES} bytes), itself well under 1 MiB and the build cap`, () => {
    const ipv6 = (i: number) => `ffff:ffff:ffff:ffff:ffff:ffff:${(i >> 16).toString(16).padStart(4, 'f')}:${(i & 0xffff).toString(16).padStart(4, 'f')}/128`;
    const pii = largestPii();
    const breakdowns = Object.fromEntries(
      Array.from({ length: BREAKDOWNS_BOUNDS.maxEntries }, (_, i) => [`b${String(i).padStart(2, '0')}`, { type: 'span_operations', matches: ['\u0001'.repeat(Math.floor(BREAKDOWNS_BOUNDS.maxJsonBytes / BREAKDOWNS_BOUNDS.maxEntries / 6) - 15)] }]),
    );
    const trusted = Array.from({ length: TRUSTED_RELAY_BOUNDS.maxItems }, (_, i) => ({
      publicKey: generateRelayKeyPair().public,
      name: 'n'.repeat(TRUSTED_RELAY_BOUNDS.maxNameChars),
      description: 'd'.repeat(TRUSTED_RELAY_BOUNDS.maxDescriptionChars),
      created: new Date(i).toISOString(),
      lastModified: new Date(i).toISOString(),
    }));
    const both = (scope: OptionScope) => ({
      'sentry:sensitive_fields': valid(scope, 'sentry:sensitive_fields', largestList('sentry:sensitive_fields')),
      'sentry:safe_fields': valid(scope, 'sentry:safe_fields', largestList('sentry:safe_fields')),
      'sentry:relay_pii_config': pii,
    });
    const organizationOptions = new Map<string, unknown>(Object.entries({ ...both('organization'), 'sentry:trusted-relays': valid('organization', 'sentry:trusted-relays', trusted), 'sentry:event_retention': 3650 }));
    const projectOptions = new Map<string, unknown>(
      Object.entries({
        ...both('project'),
        'sentry:origins': valid('project', 'sentry:origins', largestList('sentry:origins', (i) => `${i}`.padEnd(LIST_BOUNDS['sentry:origins'].maxItemChars, '\u0001'))),
        'sentry:error_messages': valid('project', 'sentry:error_messages', largestList('sentry:error_messages')),
        'sentry:releases': valid('project', 'sentry:releases', largestList('sentry:releases')),
        'sentry:log_messages': valid('project', 'sentry:log_messages', largestList('sentry:log_messages')),
        'sentry:trace_metric_names': valid('project', 'sentry:trace_metric_names', largestList('sentry:trace_metric_names')),
        'sentry:transaction_metrics_custom_tags': valid('project', 'sentry:transaction_metrics_custom_tags', largestList('sentry:transaction_metrics_custom_tags')),
        'sentry:csp_ignored_sources': valid('project', 'sentry:csp_ignored_sources', largestList('sentry:csp_ignored_sources', (i) => `${i}`.padEnd(500, '\u0001'))),
        'sentry:blacklisted_ips': valid('project', 'sentry:blacklisted_ips', largestList('sentry:blacklisted_ips', ipv6)),
        'sentry:breakdowns': valid('project', 'sentry:breakdowns', breakdowns),
        'filters:legacy-browsers': valid('project', 'filters:legacy-browsers', ['default', 'ie_pre_9', 'ie9', 'ie10', 'ie11', 'opera_pre_15', 'opera_mini_pre_8', 'android_pre_4', 'safari_pre_6', 'edge_pre_79']),
        'filters:browser-extensions': '1',
        'filters:localhost': '1',
        'filters:web-crawlers': '1',
        'filters:filtered-transaction': '1',
      }),
    );
    const key = { id: 2 ** 31 - 1, publicKey: 'c'.repeat(32), status: 'active' as const, rateLimitCount: 2 ** 31 - 1, rateLimitWindow: 2 ** 31 - 1 };
    const config = buildProjectConfig(
      {
        publicKey: key.publicKey,
        key,
        project: { id: 2 ** 31 - 1, slug: 's'.repeat(50), status: 'active' },
        organization: { id: 2 ** 31 - 1, slug: 'o'.repeat(50), status: 'active' },
        organizationOptions,
        projectOptions,
        templateOptions: null,
      },
      { now: new Date(), allowedOrigins: [], newRev: () => 'f'.repeat(32), defaultFeatures: new Set(FEATURE_DEFINITIONS.map((f) => f.name)), eventRetentionDays: 90 },
    ) as EnabledConfig;
    const bytes = Buffer.byteLength(JSON.stringify(config));
    expect(bytes).toBeLessThanOrEqual(MAX_TENANT_CONFIG_BYTES);
    // The table's bound is tight enough to mean something: this config reaches most of it.
    expect(bytes).toBeGreaterThan(MAX_TENANT_CONFIG_BYTES * 0.7);
    expect(MAX_TENANT_CONFIG_BYTES).toBeLessThan(1024 * 1024);
    expect(MAX_TENANT_CONFIG_BYTES * 4).toBeLessThan(MAX_CONFIG_BYTES);

    // Everything that is not a bounded option fits the fixed part.
    const bare = buildProjectConfig(
      { publicKey: key.publicKey, key, project: { id: 1, slug: 's'.repeat(50), status: 'active' }, organization: { id: 1, slug: 'o', status: 'active' }, organizationOptions: new Map(), projectOptions: new Map(Object.entries({ 'filters:legacy-browsers': ['default', 'ie_pre_9', 'ie9', 'ie10', 'ie11', 'opera_pre_15', 'opera_mini_pre_8', 'android_pre_4', 'safari_pre_6', 'edge_pre_79'], 'filters:filtered-transaction': '1' })), templateOptions: null },
      { now: new Date(), allowedOrigins: [], newRev: () => 'f'.repeat(32), defaultFeatures: new Set(FEATURE_DEFINITIONS.map((f) => f.name)), eventRetentionDays: 90 },
    );
    expect(Buffer.byteLength(JSON.stringify(bare))).toBeLessThan(FIXED_CONFIG_BYTES / 2);
  });
});
