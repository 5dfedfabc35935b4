import { describe, expect, it } from 'vitest';
import { mergePiiConfigs, RESERVED_PII_NAMES, validatePiiConfig } from '../src/options/pii-config';
import { OptionValidationError, validateOption } from '../src/options/registry';
import { buildProjectConfig } from '../src/relay-config/project-config';
import type { BuildContext, EnabledConfig, ProjectConfigInput } from '../src/relay-config/types';

/**
 * Tenant-chosen strings become object keys in the builder (PII rule names and selectors,
 * breakdown names) or are looked up by name (option keys). Every name a plain object inherits
 * must be harmless there: stored values written before names were checked still build, and build
 * to exactly what was written.
 */

const INHERITED = Object.getOwnPropertyNames(Object.prototype);
const ctx: BuildContext = { now: new Date('2026-11-25T10:00:00.000Z'), allowedOrigins: [], newRev: () => '0'.repeat(32), defaultFeatures: new Set(['projects:custom-inbound-filters']), eventRetentionDays: 90 };
const PK = 'b'.repeat(32);

/** An object whose only key is `name`, as an own data property even for `__proto__`. */
const keyed = <V>(name: string, value: V): Record<string, V> => Object.fromEntries([[name, value]]);

function inputWith(name: string): ProjectConfigInput {
  const orgPii = {
    rules: { ...keyed(name, { type: 'pattern', pattern: 'secret' }), multi: { type: 'multiple', rules: [name, '@ip'] } },
    applications: { ...keyed(name, [name, '@ip:remove']), $string: [name, 'multi'] },
  };
  const projectPii = { rules: keyed(name, { type: 'redact_pair', keyPattern: 'k' }), applications: keyed(name, [name]) };
  return {
    publicKey: PK,
    key: { id: 1, publicKey: PK, status: 'active' },
    project: { id: 2, slug: 'web', status: 'active' },
    organization: { id: 3, slug: 'acme', status: 'active' },
    // Unknown option keys named like inherited members are stored rows the builder must ignore.
    organizationOptions: new Map<string, unknown>([
      [name, 'junk'],
      ['sentry:relay_pii_config', JSON.stringify(orgPii)],
      ['sentry:sensitive_fields', [name]],
      ['sentry:safe_fields', [name]],
      ['sentry:feature_overrides', keyed(name, true)],
    ]),
    projectOptions: new Map<string, unknown>([
      [name, 'junk'],
      ['sentry:relay_pii_config', JSON.stringify(projectPii)],
      ['sentry:sensitive_fields', [name]],
      ['sentry:safe_fields', [name]],
      ['sentry:origins', [name]],
      ['sentry:breakdowns', keyed(name, { type: 'span_operations', matches: [name] })],
      ['sentry:error_messages', [name]],
      ['sentry:releases', [name]],
      ['sentry:csp_ignored_sources', [name]],
      ['sentry:csp_ignored_sources_defaults', false],
      ['sentry:feature_overrides', keyed(name, true)],
      ['filters:filtered-transaction', '0'],
      ['filters:chunk-load-error', '0'],
      ['filters:react-hydration-errors', '0'],
    ]),
    templateOptions: new Map<string, unknown>([[name, 'junk']]),
  };
}

describe('the builder with every inherited property name in every tenant-chosen position', () => {
  it.each(INHERITED)('builds "%s" without throwing, to exactly the merged values', (name) => {
    const config = buildProjectConfig(inputWith(name), ctx) as EnabledConfig;
    expect(config.disabled).toBe(false);
    const lower = name.toLowerCase();
    const expectedPii = {
      rules: {
        ...keyed(`organization:${name}`, { type: 'pattern', pattern: 'secret' }),
        'organization:multi': { type: 'multiple', rules: [`organization:${name}`, '@ip'] },
        ...keyed(`project:${name}`, { type: 'redact_pair', keyPattern: 'k' }),
      },
      applications: { ...keyed(name, [`organization:${name}`, '@ip:remove', `project:${name}`]), $string: [`organization:${name}`, 'organization:multi'] },
    };
    // Compared as JSON text: what Relay receives, key order included.
    expect(JSON.stringify(config.config.piiConfig)).toBe(JSON.stringify(expectedPii));
    expect(config.config.datascrubbingSettings).toMatchObject({ sensitiveFields: [name, name], excludeFields: [name, name] });
    // An override named like an inherited member is no known flag: it turns nothing on.
    expect(config.config).not.toHaveProperty('features');
    expect(config.config.allowedDomains).toEqual([lower]);
    expect(JSON.stringify(config.config.breakdownsV2)).toBe(JSON.stringify(keyed(name, { type: 'span_operations', matches: [name] })));
    expect(config.config.filterSettings).toEqual({ errorMessages: { patterns: [name] }, releases: { releases: [name] }, csp: { disallowedSources: [name] } });
    // Nothing leaked onto the shared prototype.
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual([...INHERITED].sort());
  });

  it('merges a stored config whose only selector is an inherited name (the reported "constructor" case)', () => {
    const merged = mergePiiConfigs([{ prefix: 'project:', config: JSON.parse('{"applications":{"constructor":["@ip:remove"]}}') }]);
    expect(JSON.stringify(merged)).toBe('{"applications":{"constructor":["@ip:remove"]}}');
  });
});

describe('validation refuses inherited property names', () => {
  it('names exactly the members of Object.prototype', () => {
    expect([...RESERVED_PII_NAMES].sort()).toEqual([...INHERITED].sort());
    expect(RESERVED_PII_NAMES).toContain('__proto__');
  });

  it.each(INHERITED)('refuses "%s" as a PII rule name and as a selector, naming it', (name) => {
    const asRule = validatePiiConfig(JSON.parse(JSON.stringify({ rules: keyed(name, { type: 'pattern', pattern: 'x' }) })));
    expect(asRule).toBe(`rule name "${name}" is a reserved name (a property every JavaScript object inherits, like "constructor" or "__proto__"); choose another`);
    const asSelector = validatePiiConfig(JSON.parse(JSON.stringify({ applications: keyed(name, ['@ip:remove']) })));
    expect(asSelector).toBe(`selector "${name}" is a reserved name (a property every JavaScript object inherits, like "constructor" or "__proto__"); choose another`);
    // A reference to it is an undefined rule, as any other undefined name.
    expect(validatePiiConfig({ applications: { $string: [name] } })).toBe(`selector "$string" applies the undefined rule "${name}"`);
  });

  it.each(INHERITED)('refuses "%s" as a breakdown name', (name) => {
    const value = JSON.parse(JSON.stringify(keyed(name, { type: 'span_operations', matches: ['http'] })));
    expect(() => validateOption('project', 'sentry:breakdowns', value)).toThrow(OptionValidationError);
    expect(() => validateOption('project', 'sentry:breakdowns', value)).toThrow(`breakdown name "${name}" is a reserved name`);
  });

  it('still accepts names that merely contain an inherited name', () => {
    expect(validatePiiConfig({ rules: { my_constructor: { type: 'pattern', pattern: 'x' } }, applications: { '$string.toString': ['my_constructor'] } })).toBeNull();
  });
});
