import { describe, expect, it } from 'vitest';
import { validateOption, type OptionScope } from '../src/options/registry';
import { buildProjectConfig } from '../src/relay-config/project-config';
import type { BuildContext, ProjectConfigBody } from '../src/relay-config/types';
import { CARDINALITY_LIMIT_BOUNDS, TX_NAME_RULE_BOUNDS } from '../src/options/bounds';

const PK = 'b'.repeat(32);
const rows = {
  key: { id: 7, publicKey: PK, status: 'active' as const },
  project: { id: 42, slug: 'web', status: 'active' as const },
  organization: { id: 3, slug: 'acme', status: 'active' as const },
};
const baseCtx: BuildContext = { now: new Date('2026-11-25T10:00:00.000Z'), allowedOrigins: [], newRev: () => 'r'.repeat(32), defaultFeatures: new Set(), eventRetentionDays: 90 };

function build(options: { organization?: Record<string, unknown>; project?: Record<string, unknown> } = {}, ctx: BuildContext = baseCtx): ProjectConfigBody {
  const org = Object.entries(options.organization ?? {}).map(([k, v]) => [k, validateOption('organization', k, v)] as const);
  const project = Object.entries(options.project ?? {}).map(([k, v]) => [k, validateOption('project', k, v)] as const);
  const config = buildProjectConfig({ publicKey: PK, ...rows, organizationOptions: new Map(org), projectOptions: new Map(project), templateOptions: null }, ctx);
  if (config.disabled) throw new Error('expected an enabled config');
  return config.config;
}

const normalizeOn: BuildContext = { ...baseCtx, defaultFeatures: new Set(['organizations:transaction-name-normalize']) };
const limit = { id: 'transactions', window: { windowSeconds: 3600, granularitySeconds: 600 }, limit: 10000, scope: 'organization', namespace: 'transactions' };

describe('optional config fields: left out by default', () => {
  it('leaves out txNameRules, metrics, downsampledEventRetention, retentions and trimming when no option is set', () => {
    const config = build({}, normalizeOn);
    for (const field of ['txNameRules', 'metrics', 'downsampledEventRetention', 'retentions', 'trimming']) expect(config, field).not.toHaveProperty(field);
  });
});

describe('txNameRules', () => {
  const rules = [
    { pattern: '/users/*/**', lastSeen: 1_790_000_000 },
    { pattern: '/orgs/*/projects/*/**', lastSeen: 1_790_000_000 },
  ];

  it('emits the rules, most specific first, with expiry 90 days after last seen and the fixed redaction', () => {
    expect(build({ project: { 'sentry:transaction_name_cluster_rules': rules } }, normalizeOn).txNameRules).toEqual([
      { pattern: '/orgs/*/projects/*/**', expiry: '2026-12-20T14:13:20Z', redaction: { method: 'replace', substitution: '*' } },
      { pattern: '/users/*/**', expiry: '2026-12-20T14:13:20Z', redaction: { method: 'replace', substitution: '*' } },
    ]);
  });

  it('is left out without organizations:transaction-name-normalize, as in Sentry', () => {
    expect(build({ project: { 'sentry:transaction_name_cluster_rules': rules } })).not.toHaveProperty('txNameRules');
  });

  it('comes right after sampling and before breakdownsV2 (Sentry emission order)', () => {
    const keys = Object.keys(build({ project: { 'sentry:transaction_name_cluster_rules': rules } }, normalizeOn));
    expect(keys.indexOf('txNameRules')).toBe(keys.indexOf('breakdownsV2') - 1);
  });

  it.each([
    ['a pattern with a space', [{ pattern: '/a b/*', lastSeen: 1 }]],
    ['an empty pattern', [{ pattern: '', lastSeen: 1 }]],
    ['a too long pattern', [{ pattern: '/'.repeat(TX_NAME_RULE_BOUNDS.maxPatternChars + 1), lastSeen: 1 }]],
    ['a duplicate pattern', [rules[0], rules[0]]],
    ['a fractional lastSeen', [{ pattern: '/a/*', lastSeen: 1.5 }]],
    ['an unknown field', [{ pattern: '/a/*', lastSeen: 1, expiry: 'x' }]],
    ['too many rules', Array.from({ length: TX_NAME_RULE_BOUNDS.maxItems + 1 }, (_, i) => ({ pattern: `/r${i}/*`, lastSeen: 1 }))],
  ])('refuses %s', (_, value) => {
    expect(() => validateOption('project', 'sentry:transaction_name_cluster_rules', value)).toThrow(/Invalid value for "sentry:transaction_name_cluster_rules"/);
  });

  it('is a project option, not an organization one', () => {
    expect(() => validateOption('organization', 'sentry:transaction_name_cluster_rules', rules)).toThrow('cannot be set on a organization');
  });
});

describe('metrics.cardinalityLimits', () => {
  it('emits the organization limits under metrics, between breakdownsV2 and sessionMetrics', () => {
    const passive = { ...limit, id: 'spans', namespace: 'spans', passive: true };
    const config = build({ organization: { 'relay.cardinality-limiter.limits': [limit, passive] } });
    expect(config.metrics).toEqual({ cardinalityLimits: [limit, passive] });
    const keys = Object.keys(config);
    expect(keys.indexOf('metrics')).toBe(keys.indexOf('breakdownsV2') + 1);
    expect(keys.indexOf('metrics')).toBeLessThan(keys.indexOf('sessionMetrics'));
  });

  it.each([
    ['an unknown namespace', [{ ...limit, namespace: 'nope' }]],
    ['an unknown scope', [{ ...limit, scope: 'galaxy' }]],
    ['a granularity above the window', [{ ...limit, window: { windowSeconds: 60, granularitySeconds: 600 } }]],
    ['a negative limit', [{ ...limit, limit: -1 }]],
    ['a duplicate id', [limit, limit]],
    ['a too long id', [{ ...limit, id: 'x'.repeat(CARDINALITY_LIMIT_BOUNDS.maxIdChars + 1) }]],
    ['too many limits', Array.from({ length: CARDINALITY_LIMIT_BOUNDS.maxItems + 1 }, (_, i) => ({ ...limit, id: `l${i}` }))],
  ])('refuses %s', (_, value) => {
    expect(() => validateOption('organization', 'relay.cardinality-limiter.limits', value)).toThrow(/Invalid value for "relay.cardinality-limiter.limits"/);
  });
});

describe('downsampledEventRetention, retentions, trimming', () => {
  it('emits each after eventRetention and before quotas, in Sentry order, with the option values', () => {
    const config = build({
      organization: {
        'sentry:downsampled_event_retention': 395,
        'sentry:retentions': { traceMetric: { standard: 30 }, span: { standard: 30, downsampled: 395 } },
        'sentry:trimming': { span: { maxSize: 512_000 } },
      },
    });
    expect(config.downsampledEventRetention).toBe(395);
    expect(config.retentions).toEqual({ span: { standard: 30, downsampled: 395 }, traceMetric: { standard: 30 } });
    expect(Object.keys(config.retentions!)).toEqual(['span', 'traceMetric']);
    expect(config.trimming).toEqual({ span: { maxSize: 512_000 } });
    const keys = Object.keys(config);
    const at = (k: string) => keys.indexOf(k);
    expect([at('eventRetention'), at('downsampledEventRetention'), at('retentions'), at('trimming')]).toEqual([at('eventRetention'), at('eventRetention') + 1, at('eventRetention') + 2, at('eventRetention') + 3]);
  });

  it('leaves out retentions when no category is set', () => {
    expect(build({ organization: { 'sentry:retentions': {} } })).not.toHaveProperty('retentions');
  });

  it.each<[string, OptionScope, string, unknown]>([
    ['zero days', 'organization', 'sentry:downsampled_event_retention', 0],
    ['over ten years', 'organization', 'sentry:downsampled_event_retention', 3651],
    ['a string', 'organization', 'sentry:downsampled_event_retention', '30'],
    ['an unknown category', 'organization', 'sentry:retentions', { error: { standard: 30 } }],
    ['a missing standard', 'organization', 'sentry:retentions', { log: { downsampled: 30 } }],
    ['fractional days', 'organization', 'sentry:retentions', { log: { standard: 1.5 } }],
    ['a zero span size', 'organization', 'sentry:trimming', { span: { maxSize: 0 } }],
    ['a huge span size', 'organization', 'sentry:trimming', { span: { maxSize: 2 ** 40 } }],
    ['no span entry', 'organization', 'sentry:trimming', {}],
    ['an extra key', 'organization', 'sentry:trimming', { span: { maxSize: 1000 }, log: { maxSize: 1000 } }],
  ])('refuses %s for %s %s', (_, scope, key, value) => {
    expect(() => validateOption(scope, key, value)).toThrow(new RegExp(`Invalid value for "${key}"`));
  });

  it('are organization options, not project ones', () => {
    for (const key of ['sentry:downsampled_event_retention', 'sentry:retentions', 'sentry:trimming', 'relay.cardinality-limiter.limits']) {
      expect(() => validateOption('project', key, null)).toThrow('cannot be set on a project');
    }
  });
});
