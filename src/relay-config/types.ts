import type { OptionValues } from '../options/registry';
import type { PiiConfig } from '../options/pii-config';

/**
 * The rows the builder needs, as plain structural types: ORM entities satisfy them, and tests can
 * pass literals. Nothing here knows about a database.
 */
export interface KeyRow {
  id: number;
  publicKey: string;
  status: 'active' | 'inactive';
  rateLimitCount?: number | null;
  rateLimitWindow?: number | null;
}

export interface ProjectRow {
  id: number;
  slug: string;
  status: 'active' | 'pending_deletion';
}

export interface OrganizationRow {
  id: number;
  slug: string;
  status: 'active' | 'pending_deletion';
}

/** Everything one public key's config is computed from. Null rows mean "not found". */
export interface ProjectConfigInput {
  publicKey: string;
  key: KeyRow | null;
  project: ProjectRow | null;
  organization: OrganizationRow | null;
  organizationOptions: OptionValues;
  projectOptions: OptionValues;
  /** Options of the project's template; null when the project has none. */
  templateOptions: OptionValues | null;
  /** For v1 (configs by project): every key of the project, listed in `publicKeys`. */
  projectKeys?: KeyRow[];
}

export interface BuildContext {
  now: Date;
  /** Server-wide extra allowed domains (`ALLOWED_ORIGINS`). */
  allowedOrigins: readonly string[];
  /** A fresh revision id per computation; injectable for snapshot tests. */
  newRev: () => string;
  /** Feature flags on unless overridden (`DEFAULT_FEATURES`). */
  defaultFeatures: ReadonlySet<string>;
  /** `EVENT_RETENTION_DAYS`; 0 leaves `eventRetention` out. */
  eventRetentionDays: number;
}

export interface DisabledConfig {
  disabled: true;
}

export interface PublicKeyEntry {
  publicKey: string;
  numericId: number;
  isEnabled: true;
}

export interface Quota {
  id: string;
  scope: 'key';
  scopeId: string;
  categories: string[];
  limit: number;
  window: number;
  reasonCode: string;
}

/** As Relay's serializer writes it: `scrubData` and `scrubIpAddresses` only when true. */
export interface DataScrubbingSettings {
  excludeFields: string[];
  scrubData?: true;
  scrubIpAddresses?: true;
  sensitiveFields: string[];
  scrubDefaults: boolean;
}

export type FilterSettings = Record<string, unknown>;

/** A rule condition of Relay's protocol (`RuleCondition`). */
export type RuleCondition = Record<string, unknown>;

export interface SamplingRule {
  samplingValue: { type: 'sampleRate' | 'factor' | 'minimumSampleRate'; value: number };
  type: 'trace' | 'transaction';
  condition: RuleCondition;
  id: number;
}

export interface SamplingConfig {
  version: 2;
  rules: SamplingRule[];
}

export interface TransactionMetricsConfig {
  version: number;
  extractCustomTags: string[];
  customMeasurements: { limit: number };
  acceptTransactionNames: 'clientBased';
}

export interface TaggingRule {
  condition: RuleCondition;
  targetMetrics: string[];
  targetTag: string;
  tagValue: string;
}

export interface PerformanceScoreProfile {
  name: string;
  scoreComponents: { measurement: string; weight: number; p10: number; p50: number; optional: boolean }[];
  condition: RuleCondition;
  version?: string;
}

export interface ProjectConfigBody {
  allowedDomains: string[];
  trustedRelays: string[];
  piiConfig: PiiConfig;
  datascrubbingSettings: DataScrubbingSettings;
  trustedRelaySettings?: { verifySignature: 'enabled' | 'disabled' };
  features?: string[];
  sampling?: SamplingConfig;
  breakdownsV2: Record<string, unknown>;
  transactionMetrics?: TransactionMetricsConfig;
  metricConditionalTagging?: TaggingRule[];
  sessionMetrics: { version: number };
  performanceScore: { profiles: PerformanceScoreProfile[] };
  filterSettings?: FilterSettings;
  groupingConfig: { id: string; enhancements: string };
  eventRetention?: number;
  quotas?: Quota[];
}

export interface EnabledConfig {
  disabled: false;
  projectId: number;
  organizationId: number;
  slug: string;
  lastChange: string;
  lastFetch: string;
  rev: string;
  publicKeys: PublicKeyEntry[];
  config: ProjectConfigBody;
}

export type ProjectConfig = EnabledConfig | DisabledConfig;
