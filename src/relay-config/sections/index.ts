import type { ConfigSection, SectionReads } from '../section';
import { allowedDomainsSection } from './allowed-domains';
import { breakdownsSection } from './breakdowns';
import { cardinalityLimitsSection } from './cardinality-limits';
import { datascrubbingSettingsSection } from './datascrubbing-settings';
import { downsampledEventRetentionSection } from './downsampled-event-retention';
import { eventRetentionSection } from './event-retention';
import { featuresSection } from './features';
import { filterSettingsSection } from './filter-settings';
import { groupingConfigSection } from './grouping-config';
import { performanceScoreSection } from './performance-score';
import { piiConfigSection } from './pii-config';
import { quotasSection } from './quotas';
import { retentionsSection } from './retentions';
import { samplingSection } from './sampling';
import { sessionMetricsSection } from './session-metrics';
import { transactionMetricsSection } from './transaction-metrics';
import { trimmingSection } from './trimming';
import { trustedRelaySettingsSection } from './trusted-relay-settings';
import { trustedRelaysSection } from './trusted-relays';
import { txNameRulesSection } from './tx-name-rules';

/** Every section of a project config, in Sentry's emission order (FULL_CONFIG.md §3), which keeps stored configs comparable. */
export const CONFIG_SECTIONS: readonly ConfigSection[] = [
  allowedDomainsSection,
  trustedRelaysSection,
  piiConfigSection,
  datascrubbingSettingsSection,
  trustedRelaySettingsSection,
  featuresSection,
  samplingSection,
  txNameRulesSection,
  breakdownsSection,
  cardinalityLimitsSection,
  transactionMetricsSection,
  sessionMetricsSection,
  performanceScoreSection,
  filterSettingsSection,
  groupingConfigSection,
  eventRetentionSection,
  downsampledEventRetentionSection,
  retentionsSection,
  trimmingSection,
  quotasSection,
];

/** What the envelope of a config (ids, slug, keys, disabled) reads, besides the sections. */
export const ENVELOPE_READS: Required<Pick<SectionReads, 'keyColumns' | 'projectColumns' | 'organizationColumns'>> = {
  keyColumns: ['id', 'publicKey', 'status'],
  projectColumns: ['id', 'slug', 'status'],
  organizationColumns: ['id', 'status'],
};

/** What resolving feature flags reads, for every section that declares a flag. */
export const FEATURE_READS: Required<Pick<SectionReads, 'projectOptions' | 'organizationOptions'>> = {
  projectOptions: ['sentry:feature_overrides'],
  organizationOptions: ['sentry:feature_overrides'],
};

function union<K extends keyof SectionReads>(field: K): NonNullable<SectionReads[K]>[number][] {
  const all = CONFIG_SECTIONS.flatMap((s) => (s.reads[field] ?? []) as readonly NonNullable<SectionReads[K]>[number][]);
  const envelope = (ENVELOPE_READS as SectionReads)[field] ?? [];
  const features = CONFIG_SECTIONS.some((s) => (s.reads.features ?? []).length > 0) ? ((FEATURE_READS as SectionReads)[field] ?? []) : [];
  return [...new Set([...(envelope as NonNullable<SectionReads[K]>[number][]), ...(features as NonNullable<SectionReads[K]>[number][]), ...all])];
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
