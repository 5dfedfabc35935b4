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

export interface DataScrubbingSettings {
  excludeFields: string[];
  scrubData: boolean;
  scrubIpAddresses: boolean;
  sensitiveFields: string[];
  scrubDefaults: boolean;
}

export type FilterSettings = Record<string, Record<string, unknown>>;

export interface ProjectConfigBody {
  allowedDomains: string[];
  trustedRelays: string[];
  piiConfig: PiiConfig;
  datascrubbingSettings: DataScrubbingSettings;
  filterSettings?: FilterSettings;
  quotas?: Quota[];
  eventRetention?: number;
  features?: string[];
  breakdownsV2: Record<string, unknown>;
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
