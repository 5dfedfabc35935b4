import { describe, expect, it } from 'vitest';
import { DEFAULT_FEATURES } from '../src/options/features';
import { buildProjectConfig } from '../src/relay-config/project-config';
import { isShared, SHARED_SPAN_MIN_LENGTH, shared, stringifyConfig, stringifyConfigWithSpans } from '../src/relay-config/serialize';
import type { BuildContext, EnabledConfig, ProjectConfigInput } from '../src/relay-config/types';

/** stringifyConfig splices the text of shared section values; its output must be JSON.stringify's, byte for byte. */

const PK = 'b'.repeat(32);
const ctx = (defaultFeatures: readonly string[]): BuildContext => ({
  now: new Date('2026-12-03T10:00:00.000Z'),
  allowedOrigins: [],
  newRev: () => 'e'.repeat(32),
  defaultFeatures: new Set(defaultFeatures),
  eventRetentionDays: 90,
});

function input(project: Record<string, unknown>, org: Record<string, unknown> = {}): ProjectConfigInput {
  return {
    publicKey: PK,
    key: { id: 9, publicKey: PK, status: 'active', rateLimitCount: 100, rateLimitWindow: 60 },
    project: { id: 11, slug: 'ünïcode-"quoted"', status: 'active' },
    organization: { id: 5, slug: 'org', status: 'active' },
    organizationOptions: new Map(Object.entries(org)),
    projectOptions: new Map(Object.entries(project)),
    templateOptions: null,
  };
}

const FEATURE_SETS = [
  DEFAULT_FEATURES,
  [],
  [...DEFAULT_FEATURES, 'organizations:performance-calculate-mobile-perf-score-relay', 'organizations:transaction-metrics-extraction', 'projects:custom-inbound-filters'],
];
const OPTION_SETS = [
  {},
  { 'filters:filtered-transaction': '1', 'filters:localhost': '1', 'sentry:releases': ['*-beta'], 'sentry:error_messages': ['*oops*'], 'sentry:blacklisted_ips': ['10.0.0.0/8'] },
  { 'sentry:origins': ['https://example.com'], 'sentry:scrub_data': false, 'sentry:csp_ignored_sources_defaults': false },
];

describe('stringifyConfig', () => {
  it('writes the same text as JSON.stringify for configs with and without the shared sections', () => {
    let sharedSeen = 0;
    for (const features of FEATURE_SETS) {
      for (const options of OPTION_SETS) {
        const config = buildProjectConfig(input(options), ctx(features)) as EnabledConfig;
        expect(config.disabled).toBe(false);
        sharedSeen += Object.values(config.config).filter((value) => value !== null && typeof value === 'object' && isShared(value)).length;
        expect(stringifyConfig(config)).toBe(JSON.stringify(config));
      }
    }
    // The performance-score profiles are in every config, so the splice path was taken.
    expect(sharedSeen).toBeGreaterThanOrEqual(FEATURE_SETS.length * OPTION_SETS.length);
  });

  it('tells where the longer shared texts are in the text, in order', () => {
    let spans = 0;
    for (const features of FEATURE_SETS) {
      for (const options of OPTION_SETS) {
        const config = buildProjectConfig(input(options), ctx(features));
        const { json, shared: found } = stringifyConfigWithSpans(config);
        expect(json).toBe(JSON.stringify(config));
        let end = 0;
        for (const span of found) {
          expect(span.start).toBeGreaterThanOrEqual(end);
          expect(span.text.length).toBeGreaterThanOrEqual(SHARED_SPAN_MIN_LENGTH);
          expect(json.startsWith(span.text, span.start)).toBe(true);
          end = span.start + span.text.length;
        }
        spans += found.length;
      }
    }
    // The performance-score profiles at least, in every config.
    expect(spans).toBeGreaterThanOrEqual(FEATURE_SETS.length * OPTION_SETS.length);
  });

  it('leaves out undefined members, honours toJSON and keeps key order, like JSON.stringify', () => {
    const profiles = shared({ list: [1, 2, { x: 'y' }] });
    const value = {
      a: 1,
      skipped: undefined,
      fn: () => 1,
      config: { when: new Date(0), profiles, nested: { deep: { deeper: { undef: undefined, n: null } } }, s: 'tab\t"quote"' },
      '2': 'integer-like key first',
      list: [undefined, profiles],
    };
    expect(stringifyConfig(value)).toBe(JSON.stringify(value));
    expect(stringifyConfig({ disabled: true })).toBe('{"disabled":true}');
  });

  it('freezes shared values, so no config can change what every other config splices', () => {
    const value = shared({ inner: { list: ['a'] } });
    expect(Object.isFrozen(value.inner.list)).toBe(true);
    expect(() => value.inner.list.push('b')).toThrow();
  });
});
