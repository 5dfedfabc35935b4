import type { ConfigSection, SectionReads } from '../section';
import { allowedDomainsSection } from './allowed-domains';
import { breakdownsSection } from './breakdowns';
import { datascrubbingSettingsSection } from './datascrubbing-settings';
import { eventRetentionSection } from './event-retention';
import { featuresSection } from './features';
import { filterSettingsSection } from './filter-settings';
import { piiConfigSection } from './pii-config';
import { quotasSection } from './quotas';
import { trustedRelaysSection } from './trusted-relays';

/** Every section of a project config, in CONFIG.md's field order (which keeps stored configs easy to read). */
export const CONFIG_SECTIONS: readonly ConfigSection[] = [
  allowedDomainsSection,
  trustedRelaysSection,
  piiConfigSection,
  datascrubbingSettingsSection,
  filterSettingsSection,
  quotasSection,
  eventRetentionSection,
  featuresSection,
  breakdownsSection,
];

/** What the envelope of a config (ids, slug, keys, disabled) reads, besides the sections. */
export const ENVELOPE_READS: Required<Pick<SectionReads, 'keyColumns' | 'projectColumns' | 'organizationColumns'>> = {
  keyColumns: ['id', 'publicKey', 'status'],
  projectColumns: ['id', 'slug', 'status'],
  organizationColumns: ['id', 'status'],
};

function union<K extends keyof SectionReads>(field: K): NonNullable<SectionReads[K]>[number][] {
  const all = CONFIG_SECTIONS.flatMap((s) => (s.reads[field] ?? []) as readonly NonNullable<SectionReads[K]>[number][]);
  const envelope = (ENVELOPE_READS as SectionReads)[field] ?? [];
  return [...new Set([...(envelope as NonNullable<SectionReads[K]>[number][]), ...all])];
}

/** Everything configs are computed from, derived from the declarations: what the loader reads and what invalidates. */
export const CONFIG_INPUTS = {
  keyColumns: union('keyColumns'),
  projectColumns: union('projectColumns'),
  organizationColumns: union('organizationColumns'),
  // Sets of plain strings: membership is asked of run-time keys (stored rows, changed rows).
  projectOptions: new Set<string>(union('projectOptions')) as ReadonlySet<string>,
  organizationOptions: new Set<string>(union('organizationOptions')) as ReadonlySet<string>,
};

/** The `config` fields a trusted external relay sees. */
export const RESTRICTED_FIELDS: readonly string[] = CONFIG_SECTIONS.filter((s) => s.restricted).flatMap((s) => s.fields);
