/**
 * The feature flags this service knows (CONFIG.md, "Feature flags"), with Sentry's names. A flag is
 * either exposable (written into `config.features`, where Relay reads it as a gate) or only gates a
 * section here (`sampling`, `transactionMetrics`, custom inbound filters, …). Which flags are on is
 * the server's `DEFAULT_FEATURES`, overridden per organization and then per project.
 */

export interface FeatureDefinition {
  name: string;
  /** Written into `config.features` when on (Sentry's EXPOSABLE_FEATURES). */
  exposable: boolean;
  /** May be overridden for one project (an organization override is always allowed). */
  projectOverridable: boolean;
  description: string;
}

function flag<const N extends string>(name: N, exposable: boolean, projectOverridable: boolean, description: string) {
  return { name, exposable, projectOverridable, description } satisfies FeatureDefinition;
}

const FEATURES = [
  // Relay drops the item type, or skips the processing step, without these (FULL_CONFIG.md §9).
  flag('organizations:continuous-profiling', true, true, 'accept profile chunks'),
  flag('organizations:profiling', true, true, 'accept profiles'),
  flag('organizations:session-replay', true, true, 'accept replays'),
  flag('organizations:session-replay-recording-scrubbing', true, true, 'scrub replay recordings'),
  flag('organizations:session-replay-video-disabled', true, true, 'drop replay videos'),
  flag('organizations:user-feedback-ingest', true, true, 'accept user feedback'),
  flag('organizations:indexed-spans-extraction', true, true, 'extract spans from transactions'),
  flag('organizations:ourlogs-ingestion', true, true, 'accept logs'),
  flag('organizations:tracemetrics-ingestion', true, true, 'accept trace metrics'),
  flag('organizations:standalone-span-ingestion', true, true, 'accept standalone spans'),
  flag('organizations:relay-otlp-traces-endpoint', true, true, 'accept OTLP traces'),
  flag('organizations:relay-otel-logs-endpoint', true, true, 'accept OTel logs'),
  flag('organizations:device-class-synthesis', true, true, 'derive the device class'),
  flag('projects:span-metrics-extraction', true, true, 'extract span metrics'),
  flag('projects:span-metrics-extraction-addons', true, true, 'extract additional span metrics'),
  flag('projects:discard-transaction', true, true, 'drop transactions'),
  // Gates of sections of the config; never written into `features`.
  flag('organizations:dynamic-sampling', false, true, 'send dynamic sampling rules (`sampling`)'),
  flag('organizations:dynamic-sampling-custom', false, false, 'custom target sample rates (samplingMode, targetSampleRate)'),
  flag('organizations:transaction-metrics-extraction', false, true, 'send `transactionMetrics` and `metricConditionalTagging`'),
  flag('organizations:performance-calculate-mobile-perf-score-relay', false, true, 'the mobile performance score profile'),
  flag('organizations:transaction-name-normalize', false, false, 'transaction name rules'),
  flag('organizations:ingest-through-trusted-relays-only', false, false, 'send `trustedRelaySettings`'),
  flag('projects:custom-inbound-filters', false, true, 'custom inbound filters (releases, error messages, log messages, trace metric names)'),
  flag('projects:rate-limits', false, true, 'key rate limits'),
] as const;

export type FeatureName = (typeof FEATURES)[number]['name'];

export const FEATURE_DEFINITIONS: readonly FeatureDefinition[] = FEATURES;

const BY_NAME = new Map<string, FeatureDefinition>(FEATURES.map((f) => [f.name, f]));

export function isFeatureName(name: string): name is FeatureName {
  return BY_NAME.has(name);
}

export function featureDefinition(name: string): FeatureDefinition | undefined {
  return BY_NAME.get(name);
}

/** Self-hosted Sentry's `SENTRY_FEATURES` as far as Relay-facing flags go (CONFIG.md, FULL_CONFIG.md §5). */
export const DEFAULT_FEATURES: readonly FeatureName[] = [
  'organizations:dynamic-sampling',
  'organizations:transaction-metrics-extraction',
  'organizations:indexed-spans-extraction',
  'organizations:session-replay',
  'organizations:profiling',
  'organizations:continuous-profiling',
  'organizations:ourlogs-ingestion',
  'organizations:tracemetrics-ingestion',
  'projects:span-metrics-extraction',
  'projects:span-metrics-extraction-addons',
  'projects:custom-inbound-filters',
  'projects:rate-limits',
];

/** Stored overrides: flag → on/off. */
export type FeatureOverrides = Partial<Record<FeatureName, boolean>>;

/** A flag's effective state: the project's override, else the organization's, else the server default. */
export function featureEnabled(
  name: FeatureName,
  defaults: ReadonlySet<string>,
  organizationOverrides: FeatureOverrides,
  projectOverrides: FeatureOverrides = {},
): boolean {
  const project = projectOverrides[name];
  if (typeof project === 'boolean') return project;
  const organization = organizationOverrides[name];
  if (typeof organization === 'boolean') return organization;
  return defaults.has(name);
}

/** Every flag that is on, sorted (as Relay's serializer writes `features`). */
export function enabledFeatures(defaults: ReadonlySet<string>, organizationOverrides: FeatureOverrides, projectOverrides?: FeatureOverrides): FeatureName[] {
  return FEATURES.map((f) => f.name)
    .filter((name) => featureEnabled(name, defaults, organizationOverrides, projectOverrides))
    .sort();
}

/** Problems of an overrides object at a scope, as messages naming each bad flag. */
export function featureOverridesProblems(value: unknown, scope: 'organization' | 'project'): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return ['Must be an object of feature flag to true, false or null.'];
  const problems: string[] = [];
  for (const [name, on] of Object.entries(value)) {
    const definition = BY_NAME.get(name);
    if (!definition) problems.push(`Unknown feature flag "${name}".`);
    else if (scope === 'project' && !definition.projectOverridable) problems.push(`The feature flag "${name}" can only be set for the organization.`);
    else if (on !== null && typeof on !== 'boolean') problems.push(`The value for "${name}" must be true, false or null.`);
  }
  return problems;
}
