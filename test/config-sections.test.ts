import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FIELDS } from '../src/db/config-loader';
import { initOrm, type Orm } from '../src/db/orm';
import { OPTION_DEFINITIONS } from '../src/options/registry';
import { buildProjectConfig } from '../src/relay-config/project-config';
import { FEATURE_DEFINITIONS } from '../src/options/features';
import { defineSection, guardedFeatures, guardedLookup, type FeatureLookup, type OptionLookup } from '../src/relay-config/section';
import type { OptionName } from '../src/options/registry';
import { CONFIG_INPUTS, CONFIG_SECTIONS, RESTRICTED_FIELDS } from '../src/relay-config/sections';
import type { BuildContext } from '../src/relay-config/types';
import { freshDatabaseUrl } from './support/harness';

const ctx: BuildContext = { now: new Date('2026-11-25T10:00:00.000Z'), allowedOrigins: [], newRev: () => 'r'.repeat(32), defaultFeatures: new Set(), eventRetentionDays: 90 };
const PK = 'a'.repeat(32);
const rows = {
  key: { id: 7, publicKey: PK, status: 'active' as const, rateLimitCount: 10, rateLimitWindow: 60 },
  project: { id: 42, slug: 'web', status: 'active' as const },
  organization: { id: 3, slug: 'acme', status: 'active' as const },
};

/** A lookup of registered defaults that records which names were read. */
function recordingLookup(read: Set<string>): OptionLookup<OptionName> {
  return ((name: OptionName) => {
    read.add(name);
    return OPTION_DEFINITIONS.find((d) => d.key === name)!.default;
  }) as OptionLookup<OptionName>;
}

describe('config sections: declarations match the code', () => {
  it.each(CONFIG_SECTIONS.map((s) => [s.name, s] as const))('section %s reads exactly the options and feature flags it declares, with every flag on or off', (_, section) => {
    for (const on of [true, false]) {
      const projectRead = new Set<string>();
      const organizationRead = new Set<string>();
      const featuresRead = new Set<string>();
      const feature: FeatureLookup = (name) => {
        featuresRead.add(name);
        return on;
      };
      section.build({
        ...rows,
        projectOption: guardedLookup(section.name, section.reads.projectOptions, recordingLookup(projectRead)),
        organizationOption: guardedLookup(section.name, section.reads.organizationOptions, recordingLookup(organizationRead)),
        feature: guardedFeatures(section.name, section.reads.features, feature),
        ctx,
      });
      expect([...projectRead].sort()).toEqual([...(section.reads.projectOptions ?? [])].sort());
      expect([...organizationRead].sort()).toEqual([...(section.reads.organizationOptions ?? [])].sort());
      expect([...featuresRead].sort()).toEqual([...(section.reads.features ?? [])].sort());
    }
  });

  it('declares only registered feature flags', () => {
    const known = new Set(FEATURE_DEFINITIONS.map((f) => f.name));
    for (const section of CONFIG_SECTIONS) for (const name of section.reads.features ?? []) expect(known, `${section.name}: ${name}`).toContain(name);
  });

  it('refuses a section that reads an option it did not declare, naming both', () => {
    const sloppy = defineSection({ name: 'sloppy', fields: ['allowedDomains'], reads: { projectOptions: [] }, restricted: false, build: ({ projectOption }) => ({ allowedDomains: projectOption('sentry:origins') }) });
    expect(() =>
      sloppy.build({ ...rows, projectOption: guardedLookup('sloppy', sloppy.reads.projectOptions, recordingLookup(new Set())), organizationOption: recordingLookup(new Set()), feature: () => true, ctx }),
    ).toThrow('config section "sloppy" reads the option "sentry:origins" without declaring it');
  });

  it('refuses a section that reads a feature flag it did not declare, naming both', () => {
    const sloppy = defineSection({ name: 'sloppy', fields: ['features'], reads: {}, restricted: false, build: ({ feature }) => (feature('organizations:profiling') ? { features: [] } : {}) });
    expect(() => sloppy.build({ ...rows, projectOption: recordingLookup(new Set()), organizationOption: recordingLookup(new Set()), feature: guardedFeatures('sloppy', undefined, () => true), ctx })).toThrow(
      'config section "sloppy" reads the feature flag "organizations:profiling" without declaring it',
    );
  });

  it('declares only registered options, each at a scope where it may be stored', () => {
    for (const section of CONFIG_SECTIONS) {
      for (const name of section.reads.projectOptions ?? []) expect(OPTION_DEFINITIONS.find((d) => d.key === name)?.scopes, `${section.name}: ${name}`).toContain('project');
      for (const name of section.reads.organizationOptions ?? []) expect(OPTION_DEFINITIONS.find((d) => d.key === name)?.scopes, `${section.name}: ${name}`).toContain('organization');
    }
  });

  it('reads every registered option at every scope it may be stored at (an option no section reads would never reach a Relay)', () => {
    const unread = OPTION_DEFINITIONS.flatMap((d) =>
      d.scopes.filter((scope) => !(scope === 'project' ? CONFIG_INPUTS.projectOptions : CONFIG_INPUTS.organizationOptions).has(d.key)).map((scope) => `${scope}:${d.key}`),
    );
    expect(unread).toEqual([]);
  });

  it('writes each config field from exactly one section, and the builder writes nothing else', () => {
    const fields = CONFIG_SECTIONS.flatMap((s) => s.fields);
    expect(new Set(fields).size).toBe(fields.length);
    const everything = {
      'sentry:event_retention': 30,
      'sentry:feature_overrides': Object.fromEntries(FEATURE_DEFINITIONS.map((f) => [f.name, true])),
      'filters:localhost': '1',
    };
    const config = buildProjectConfig(
      { publicKey: PK, ...rows, organizationOptions: new Map(Object.entries(everything)), projectOptions: new Map(Object.entries(everything)), templateOptions: null },
      ctx,
    );
    if (config.disabled) throw new Error('expected an enabled config');
    expect(Object.keys(config.config).filter((k) => !fields.includes(k as never))).toEqual([]);
  });

  it('gives restricted relays the fields of the sections declared restricted (CONFIG.md)', () => {
    expect(RESTRICTED_FIELDS).toEqual(['allowedDomains', 'trustedRelays', 'piiConfig', 'datascrubbingSettings', 'features', 'sampling', 'txNameRules']);
  });
});

describe('config sections: the loader and the entities', () => {
  let orm: Orm;
  beforeAll(async () => {
    orm = await initOrm({ databaseUrl: await freshDatabaseUrl() }, pino({ level: 'warn' }));
  });
  afterAll(() => orm.close(true));

  it('declares only columns the entities have, and the loader loads every declared column', () => {
    const properties = (entity: string) => Object.keys(orm.getMetadata().get(entity).properties);
    for (const [entity, columns, path] of [
      ['ProjectKey', CONFIG_INPUTS.keyColumns, ''],
      ['Project', CONFIG_INPUTS.projectColumns, 'project.'],
      ['Organization', CONFIG_INPUTS.organizationColumns, 'project.organization.'],
    ] as const) {
      for (const column of columns) {
        expect(properties(entity), `${entity}.${column}`).toContain(column);
        if (column !== 'id') expect(CONFIG_FIELDS, `${path}${column}`).toContain(`${path}${column}`);
      }
    }
  });
});
