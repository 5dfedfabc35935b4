import { describe, expect, it } from 'vitest';
import { DEFAULT_FEATURES } from '../src/options/features';
import { defaultGlobalConfig, mergeGlobalConfig } from '../src/relay-config/global-config';
import { generateRules } from '../src/relay-config/dynamic-sampling';
import { effectiveBiases } from '../src/relay-config/dynamic-sampling';
import { buildProjectConfig } from '../src/relay-config/project-config';
import type { BuildContext, EnabledConfig, ProjectConfigInput } from '../src/relay-config/types';

/**
 * The config of a plain project against Sentry's newest snapshot (FULL_CONFIG.md §4, SNAP-2025)
 * plus the self-hosted additions of §5, and the v3 global config against §10.
 */

const PK = 'a'.repeat(32);
const ctx = (defaultFeatures: readonly string[] = DEFAULT_FEATURES, eventRetentionDays = 90): BuildContext => ({
  now: new Date('2026-11-25T10:00:00.000Z'),
  allowedOrigins: [],
  newRev: () => 'f'.repeat(32),
  defaultFeatures: new Set(defaultFeatures),
  eventRetentionDays,
});

// Sentry's test: both levels carry a `remove_ips_and_macs` rule of type `multiple` over @ip and @mac.
const SENTRY_TEST_PII = JSON.stringify({
  rules: { remove_ips_and_macs: { type: 'multiple', rules: ['@ip', '@mac'], hide_inner: false, redaction: { method: 'remove' } } },
  applications: { $string: ['remove_ips_and_macs'] },
});

function plain(options: { org?: Record<string, unknown>; project?: Record<string, unknown> } = {}): ProjectConfigInput {
  return {
    publicKey: PK,
    key: { id: 7, publicKey: PK, status: 'active', rateLimitCount: null, rateLimitWindow: null },
    project: { id: 42, slug: 'bar', status: 'active' },
    organization: { id: 3, slug: 'baz', status: 'active' },
    organizationOptions: new Map(Object.entries({ 'sentry:relay_pii_config': SENTRY_TEST_PII, ...options.org })),
    projectOptions: new Map(Object.entries({ 'sentry:relay_pii_config': SENTRY_TEST_PII, ...options.project })),
    templateOptions: null,
  };
}

function build(input: ProjectConfigInput, c: BuildContext): EnabledConfig {
  const config = buildProjectConfig(input, c);
  if (config.disabled) throw new Error('expected an enabled config');
  // Through JSON, as Relay receives it.
  return JSON.parse(JSON.stringify(config)) as EnabledConfig;
}

const component = (measurement: string, weight: number, p10: number, p50: number, optional: boolean) => ({ measurement, weight, p10, p50, optional });
const browser = (value: string) => ({ op: 'eq', name: 'event.contexts.browser.name', value });
const desktop = (cls: 'opt' | 'zero', lcp: 'opt' | 'zero' = 'opt') => [
  component('fcp', 0.15, 900, 1600, true),
  lcp === 'opt' ? component('lcp', 0.3, 1200, 2400, true) : component('lcp', 0.0, 1200, 2400, false),
  cls === 'opt' ? component('cls', 0.15, 0.1, 0.25, true) : component('cls', 0.0, 0.1, 0.25, false),
  component('ttfb', 0.1, 200, 400, true),
];
const mobile = (cls: 'opt' | 'zero', lcp: 'opt' | 'zero' = 'opt') => [
  component('fcp', 0.15, 1800, 3000, true),
  lcp === 'opt' ? component('lcp', 0.3, 2500, 4000, true) : component('lcp', 0.0, 2500, 4000, false),
  cls === 'opt' ? component('cls', 0.15, 0.1, 0.25, true) : component('cls', 0.0, 0.1, 0.25, false),
  component('ttfb', 0.1, 800, 1800, true),
];
const inp = [component('inp', 1.0, 200, 500, false)];

const HEALTH_CHECK_GLOBS = ['*healthcheck*', '*heartbeat*', '*/health{/,}', '*/healthy{/,}', '*/healthz{/,}', '*/health_check{/,}', '*/_health{/,}', '*/\\[_health\\]{/,}', '*/live{/,}', '*/livez{/,}', '*/ready{/,}', '*/readyz{/,}', '*/ping{/,}', '*/up{/,}'];
const CSP =
  'about, ms-browser-extension, chrome://*, chrome-extension://*, chrome-extension, chromeinvokeimmediate://*, chromenull://*, data:text/html,chromewebdata, safari-extension://*, safari-web-extension://*, mxaddon-pkg://*, jar://*, webviewprogressproxy://*, ms-browser-extension://*, tmtbff://*, mbinit://*, symres://*, resource://*, moz-extension://*, *.metrext.com, static.image2play.com, *.tlscdn.com, 73a5b0806e464be8bd4e694c744624f0.com, 020dfefc4ac745dab7594f2f771c1ded.com, *.superfish.com, addons.mozilla.org, v.zilionfast.in, widgets.amung.us, *.superfish.com, xls.searchfun.in, istatic.datafastguru.info, v.zilionfast.in, localhost, resultshub-a.akamaihd.net, pulseadnetwork.com, gateway.zscalertwo.net, www.passpack.com, middlerush-a.akamaihd.net, www.websmartcenter.com, a.linkluster.com, saveyoutime.ru, cdncache-a.akamaihd.net, x.rafomedia.com, savingsslider-a.akamaihd.net, injections.adguard.com, icontent.us, amiok.org, connectionstrenth.com, siteheart.net, netanalitics.space, printapplink.com, godlinkapp.com, devappstor.com, hoholikik.club, smartlink.cool, promfflinkdev.com'
    .split(', ');
const glob = (name: string, value: string) => ({ op: 'glob', name, value: [value] });
const pair = (ty: string, value: string) => ({ op: 'and', inner: [glob('ty', ty), glob('value', value)] });
const E = 'KLUv_SAd6QAAkwORuGFsbC1wbGF0Zm9ybXM6MjAyMy0wMS0xMZA';

/** FULL_CONFIG.md §4, transcribed from SNAP-2025 (registry defaults: no feature on, retention 0). */
const SNAP_2025 = {
  allowedDomains: ['*'],
  breakdownsV2: { span_ops: { type: 'spanOperations', matches: ['http', 'db', 'browser', 'resource', 'ui'] } },
  datascrubbingSettings: { excludeFields: [], scrubData: true, scrubDefaults: true, sensitiveFields: [] },
  filterSettings: {
    csp: { disallowedSources: CSP },
    generic: {
      version: 1,
      filters: [
        {
          id: 'chunk-load-error',
          isEnabled: true,
          condition: {
            op: 'any',
            name: 'event.exception.values',
            inner: { op: 'or', inner: [pair('ChunkLoadError', 'Loading chunk *'), pair('*Uncaught *', 'ChunkLoadError: Loading chunk *'), pair('Error', 'Uncaught (in promise): ChunkLoadError*')] },
          },
        },
        {
          id: 'react-hydration-errors',
          isEnabled: true,
          condition: {
            op: 'any',
            name: 'event.exception.values',
            inner: { op: 'or', inner: [glob('value', '*https://reactjs.org/docs/error-decoder.html?invariant={418,419,422,423,425}*'), glob('value', '*https://react.dev/errors/{418,419,422,423,425}*')] },
          },
        },
      ],
    },
    ignoreTransactions: { patterns: HEALTH_CHECK_GLOBS, isEnabled: true },
  },
  groupingConfig: { id: 'newstyle:2023-01-11', enhancements: `${E}#${E}#${E}` },
  performanceScore: {
    profiles: [
      { name: 'Chrome', scoreComponents: desktop('opt'), condition: browser('Chrome') },
      { name: 'Firefox', scoreComponents: desktop('zero'), condition: browser('Firefox') },
      { name: 'Safari', scoreComponents: desktop('zero', 'zero'), condition: browser('Safari') },
      { name: 'Edge', scoreComponents: desktop('opt'), condition: browser('Edge') },
      { name: 'Opera', scoreComponents: desktop('opt'), condition: browser('Opera') },
      { name: 'Chrome INP', scoreComponents: inp, condition: { op: 'or', inner: [browser('Chrome'), browser('Google Chrome')] } },
      { name: 'Edge INP', scoreComponents: inp, condition: { op: 'or', inner: [browser('Edge')] } },
      { name: 'Opera INP', scoreComponents: inp, condition: { op: 'or', inner: [browser('Opera')] } },
      { name: 'Chrome Mobile', scoreComponents: mobile('opt'), condition: browser('Chrome Mobile') },
      { name: 'Firefox Mobile', scoreComponents: mobile('zero'), condition: browser('Firefox Mobile') },
      { name: 'Safari Mobile', scoreComponents: mobile('zero', 'zero'), condition: browser('Mobile Safari') },
      { name: 'Edge Mobile', scoreComponents: mobile('opt'), condition: browser('Edge Mobile') },
      { name: 'Opera Mobile', scoreComponents: mobile('opt'), condition: browser('Opera Mobile') },
      { name: 'Chrome Mobile INP', scoreComponents: inp, condition: { op: 'or', inner: [browser('Chrome Mobile')] } },
      { name: 'Edge Mobile INP', scoreComponents: inp, condition: { op: 'or', inner: [browser('Edge Mobile')] } },
      { name: 'Opera Mobile INP', scoreComponents: inp, condition: { op: 'or', inner: [browser('Opera Mobile')] } },
      { name: 'Default', scoreComponents: desktop('opt'), condition: { op: 'and', inner: [] } },
      { name: 'Default INP', scoreComponents: inp, condition: { op: 'and', inner: [] } },
    ],
  },
  piiConfig: {
    applications: { $string: ['organization:remove_ips_and_macs', 'project:remove_ips_and_macs'] },
    rules: {
      'organization:remove_ips_and_macs': { type: 'multiple', rules: ['@ip', '@mac'], hide_inner: false, redaction: { method: 'remove' } },
      'project:remove_ips_and_macs': { type: 'multiple', rules: ['@ip', '@mac'], hide_inner: false, redaction: { method: 'remove' } },
    },
  },
  sessionMetrics: { version: 1 },
  trustedRelays: [],
};

/** FULL_CONFIG.md §5: what self-hosted Sentry's default features and retention add. */
const SELF_HOSTED_ADDITIONS = {
  features: [
    'organizations:continuous-profiling',
    'organizations:indexed-spans-extraction',
    'organizations:ourlogs-ingestion',
    'organizations:profiling',
    'organizations:session-replay',
    'organizations:tracemetrics-ingestion',
    'projects:span-metrics-extraction',
    'projects:span-metrics-extraction-addons',
  ],
  sampling: { version: 2, rules: [{ samplingValue: { type: 'sampleRate', value: 1.0 }, type: 'trace', condition: { op: 'and', inner: [] }, id: 1000 }] },
  transactionMetrics: { version: 6, extractCustomTags: [], customMeasurements: { limit: 10 }, acceptTransactionNames: 'clientBased' },
  metricConditionalTagging: [
    ['frustrated', [{ op: 'gt', name: 'event.duration', value: 1200 }]],
    ['tolerated', [{ op: 'gt', name: 'event.duration', value: 300 }]],
    ['satisfied', []],
  ].map(([tagValue, inner]) => ({
    condition: { op: 'and', inner },
    targetMetrics: ['s:transactions/user@none', 'd:transactions/duration@millisecond', 'd:transactions/measurements.lcp@millisecond'],
    targetTag: 'satisfaction',
    tagValue,
  })),
  eventRetention: 90,
};

describe("a plain project's config against Sentry's (FULL_CONFIG.md §4, §5)", () => {
  it('with registry defaults (no feature on, retention 0) is key by key SNAP-2025', () => {
    const { config } = build(plain(), ctx([], 0));
    expect(Object.keys(config).sort()).toEqual(Object.keys(SNAP_2025).sort());
    for (const key of Object.keys(SNAP_2025) as (keyof typeof SNAP_2025)[]) expect(config[key], key).toEqual(SNAP_2025[key]);
  });

  it("with the default settings is SNAP-2025 plus exactly self-hosted Sentry's additions", () => {
    const { config, slug, disabled } = build(plain(), ctx());
    expect({ slug, disabled }).toEqual({ slug: 'bar', disabled: false });
    const expected: Record<string, unknown> = { ...SNAP_2025, ...SELF_HOSTED_ADDITIONS };
    expect(Object.keys(config).sort()).toEqual(Object.keys(expected).sort());
    for (const key of Object.keys(expected)) expect(config[key as keyof typeof config], key).toEqual(expected[key]);
  });

  it('keeps Sentry\'s float values through JSON (0.3, 900, 0.0 are numbers, not strings)', () => {
    const { config } = build(plain(), ctx());
    expect(config.performanceScore.profiles[0].scoreComponents[1]).toEqual({ measurement: 'lcp', weight: 0.3, p10: 1200, p50: 2400, optional: true });
  });

  it('adds the Mobile profile before the defaults with organizations:performance-calculate-mobile-perf-score-relay', () => {
    const { config } = build(plain(), ctx([...DEFAULT_FEATURES, 'organizations:performance-calculate-mobile-perf-score-relay']));
    const names = config.performanceScore.profiles.map((p) => p.name);
    expect(names).toHaveLength(19);
    expect(names.slice(-3)).toEqual(['Mobile', 'Default', 'Default INP']);
    expect(config.performanceScore.profiles[16]).toMatchObject({ version: 'mobile.alpha' });
  });

  it('sends trustedRelaySettings only with organizations:ingest-through-trusted-relays-only', () => {
    expect(build(plain(), ctx()).config).not.toHaveProperty('trustedRelaySettings');
    const input = plain({ org: { 'sentry:ingest-through-trusted-relays-only': 'enabled' } });
    expect(build(input, ctx([...DEFAULT_FEATURES, 'organizations:ingest-through-trusted-relays-only'])).config.trustedRelaySettings).toEqual({ verifySignature: 'enabled' });
  });

  it('carries the project custom tags in transactionMetrics', () => {
    expect(build(plain({ project: { 'sentry:transaction_metrics_custom_tags': ['tier'] } }), ctx()).config.transactionMetrics?.extractCustomTags).toEqual(['tier']);
  });
});

describe('feature flags in a config', () => {
  it('resolve project override over organization override over the server default', () => {
    const features = (org: Record<string, boolean>, project: Record<string, boolean>) =>
      build(plain({ org: { 'sentry:feature_overrides': org }, project: { 'sentry:feature_overrides': project } }), ctx()).config.features ?? [];
    expect(features({ 'organizations:session-replay': false }, {})).not.toContain('organizations:session-replay');
    expect(features({ 'organizations:session-replay': false }, { 'organizations:session-replay': true })).toContain('organizations:session-replay');
    expect(features({}, { 'organizations:profiling': false })).not.toContain('organizations:profiling');
    expect(features({ 'organizations:standalone-span-ingestion': true }, {})).toContain('organizations:standalone-span-ingestion');
  });

  it('writes only exposable flags, sorted; gates drop their sections when off', () => {
    const { config } = build(plain({ org: { 'sentry:feature_overrides': { 'organizations:dynamic-sampling': false, 'organizations:transaction-metrics-extraction': false } } }), ctx());
    expect(config.features).toEqual([...config.features!].sort());
    expect(config.features).not.toContain('organizations:dynamic-sampling');
    expect(config).not.toHaveProperty('sampling');
    expect(config).not.toHaveProperty('transactionMetrics');
    expect(config).not.toHaveProperty('metricConditionalTagging');
  });

  it('leaves features out when no exposable flag is on', () => {
    expect(build(plain(), ctx(['organizations:dynamic-sampling'])).config).not.toHaveProperty('features');
  });
});

describe('dynamic sampling rules (Sentry rules/base.py, combine.py)', () => {
  const custom = [...DEFAULT_FEATURES, 'organizations:dynamic-sampling-custom'];
  const rules = (org: Record<string, unknown>, project: Record<string, unknown> = {}, features: readonly string[] = custom) => build(plain({ org, project }), ctx(features)).config.sampling!.rules;

  it('at a rate below 1 sends the active biases in Sentry order with reserved ids, the uniform rule last at the target rate', () => {
    const r = rules({ 'sentry:target_sample_rate': 0.25 });
    expect(r.map((rule) => rule.id)).toEqual([1002, 1005, 1001, 1000]);
    expect(r[0]).toEqual({
      samplingValue: { type: 'sampleRate', value: 0.25 / 50 },
      type: 'transaction',
      condition: { op: 'or', inner: [{ op: 'glob', name: 'event.transaction', value: HEALTH_CHECK_GLOBS }] },
      id: 1002,
    });
    expect(r[1]).toEqual({ samplingValue: { type: 'sampleRate', value: 1.0 }, type: 'trace', condition: { op: 'not', inner: { op: 'eq', name: 'trace.replay_id', value: null, options: { ignoreCase: true } } }, id: 1005 });
    expect(r[2]).toEqual({ samplingValue: { type: 'sampleRate', value: 1.0 }, type: 'trace', condition: { op: 'or', inner: [{ op: 'glob', name: 'trace.environment', value: ['*debug*', '*dev*', '*local*', '*qa*', '*test*'] }] }, id: 1001 });
    expect(r[3]).toEqual({ samplingValue: { type: 'sampleRate', value: 0.25 }, type: 'trace', condition: { op: 'and', inner: [] }, id: 1000 });
  });

  it('takes the project rate in project mode, and drops the biases the project switched off', () => {
    const r = rules({ 'sentry:sampling_mode': 'project', 'sentry:target_sample_rate': 0.9 }, { 'sentry:target_sample_rate': 0.5, 'sentry:dynamic_sampling_biases': [{ id: 'boostEnvironments', active: false }] });
    expect(r.map((rule) => rule.id)).toEqual([1002, 1005, 1000]);
    expect(r.at(-1)!.samplingValue.value).toBe(0.5);
  });

  it('sends only the uniform rule at a rate of 1.0, and ignores custom rates without organizations:dynamic-sampling-custom', () => {
    expect(rules({ 'sentry:target_sample_rate': 1 }).map((rule) => rule.id)).toEqual([1000]);
    const withoutCustom = rules({ 'sentry:target_sample_rate': 0.1 }, {}, DEFAULT_FEATURES);
    expect(withoutCustom).toEqual([{ samplingValue: { type: 'sampleRate', value: 1.0 }, type: 'trace', condition: { op: 'and', inner: [] }, id: 1000 }]);
  });

  it('sends the minimum sample rate rule (1006) whenever the project turns it on, before the uniform rule', () => {
    expect(generateRules(1.0, effectiveBiases([{ id: 'minimumSampleRate', active: true }])).map((r) => r.id)).toEqual([1006, 1000]);
    expect(generateRules(0.5, effectiveBiases(null)).map((r) => r.id)).toEqual([1002, 1005, 1001, 1000]);
  });
});

describe('the v3 global config (FULL_CONFIG.md §10)', () => {
  const MS = 'millisecond';
  const expectedMeasurements: [string, string][] = [
    ['app_start_cold', MS], ['app_start_warm', MS], ['cls', 'none'], ['fcp', MS], ['fid', MS], ['fp', MS],
    ['frames_frozen_rate', 'ratio'], ['frames_frozen', 'none'], ['frames_slow_rate', 'ratio'], ['frames_slow', 'none'], ['frames_total', 'none'],
    ['inp', MS], ['lcp', MS], ['stall_count', 'none'], ['stall_longest_time', MS], ['stall_percentage', 'ratio'], ['stall_total_time', MS],
    ['ttfb.requesttime', MS], ['ttfb', MS], ['time_to_full_display', MS], ['time_to_initial_display', MS],
  ];

  it("has Sentry's keys and the 21 built-in measurements with their units", () => {
    const global = defaultGlobalConfig();
    expect(Object.keys(global)).toEqual(['measurements', 'aiOperationTypeMap', 'spanOpDefaults', 'options']);
    expect(global.measurements).toEqual({ builtinMeasurements: expectedMeasurements.map(([name, unit]) => ({ name, unit })), maxCustomMeasurements: 10 });
    const ops = (global.aiOperationTypeMap as { version: number; operationTypes: Record<string, string> });
    expect(ops.version).toBe(1);
    expect(Object.keys(ops.operationTypes)).toHaveLength(20);
    expect(Object.entries(ops.operationTypes).at(-1)).toEqual(['*', 'ai_client']);
    expect(JSON.stringify(global.spanOpDefaults)).toBe('{"rules":[{"condition":{"op":"not","inner":{"op":"eq","name":"span.data.messaging\\\\.system","value":null}},"value":"message"}]}');
    expect((global.options as Record<string, unknown>)['relay.cardinality-limiter.mode']).toBe('enabled');
  });

  it("lets RELAY_GLOBAL_CONFIG replace a top-level key and remove one with null, leaving the rest", () => {
    const merged = mergeGlobalConfig({ measurements: { maxCustomMeasurements: 3 }, aiOperationTypeMap: null, aiModelCosts: { version: 2, models: {} } });
    expect(merged.measurements).toEqual({ maxCustomMeasurements: 3 });
    expect(merged).not.toHaveProperty('aiOperationTypeMap');
    expect(merged.aiModelCosts).toEqual({ version: 2, models: {} });
    expect(merged.spanOpDefaults).toEqual(defaultGlobalConfig().spanOpDefaults);
    const proto = mergeGlobalConfig(JSON.parse('{"__proto__":{"polluted":true}}') as Record<string, unknown>);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(proto)).__proto__).toEqual({ polluted: true });
  });
});
