import type { EntityManager } from '@mikro-orm/postgresql';
import type { Organization, Project, ProjectTemplate } from '../db/entities';
import { deleteOption, projectOptionSources, setOption, storedOptions } from '../db/option-store';
import { featureEnabled, featureOverridesProblems, type FeatureName, type FeatureOverrides } from '../options/features';
import { OptionValidationError, resolveOption, validateOption, type OptionName, type OptionScope, type OptionValues } from '../options/registry';
import { describeChange } from './audit';
import { isPlainObject } from '../formats';
import type { FieldErrors } from './validation';

/**
 * The settings of the organization and project PUTs that are options (ADMIN_API.md, "Settings →
 * options"): API field ↔ option key, input normalization as Sentry does it, validation through
 * the option registry, and the audit wording of what changed.
 */

export interface OptionField {
  /** The camelCase API field. */
  field: string;
  option: OptionName;
  /** Cleans the input before validation (the registry reports what is still wrong). */
  normalize?: (value: unknown) => unknown;
  /** Extra checks beyond the registry's schema; returns error messages. */
  check?: (value: unknown) => string[];
  /** The feature flag that must be on to set the field (Sentry refuses it otherwise). */
  requires?: FeatureName;
  /** An object merged key by key into the stored one; a `null` entry removes that key. */
  merge?: true;
}

/** Whether a flag is on for the organization (or project) being changed. */
export type FeatureCheck = (name: FeatureName) => boolean;

/** Field-name lists as Sentry stores them: trimmed, lower-cased, without blanks. */
const fieldNames = (value: unknown) =>
  Array.isArray(value) && value.every((v) => typeof v === 'string') ? value.map((v) => v.trim().toLowerCase()).filter((v) => v !== '') : value;

const origins = (value: unknown) => (Array.isArray(value) && value.every((v) => typeof v === 'string') ? value.map((v) => v.trim()).filter((v) => v !== '') : value);

/** Sentry's OriginField: `*`, or a host pattern with an optional scheme and path, never a port. */
function originProblems(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const problems: string[] = [];
  for (const origin of value) {
    if (typeof origin !== 'string' || origin === '*') continue;
    const withoutScheme = origin.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
    const host = withoutScheme.split('/')[0] ?? '';
    if (host === '' || host.includes(':') || /\s/.test(origin)) problems.push(`${origin} is not an acceptable domain`);
  }
  return problems;
}

const bool = (field: string, option: OptionName): OptionField => ({ field, option });

const featureOverrides = (scope: 'organization' | 'project'): OptionField => ({
  field: 'featureOverrides',
  option: 'sentry:feature_overrides',
  merge: true,
  check: (value) => featureOverridesProblems(value, scope),
});

export const ORGANIZATION_OPTION_FIELDS: readonly OptionField[] = [
  bool('dataScrubber', 'sentry:require_scrub_data'),
  bool('dataScrubberDefaults', 'sentry:require_scrub_defaults'),
  bool('scrubIPAddresses', 'sentry:require_scrub_ip_address'),
  { field: 'sensitiveFields', option: 'sentry:sensitive_fields', normalize: fieldNames },
  { field: 'safeFields', option: 'sentry:safe_fields', normalize: fieldNames },
  { field: 'relayPiiConfig', option: 'sentry:relay_pii_config' },
  { field: 'eventRetention', option: 'sentry:event_retention' },
  featureOverrides('organization'),
  { field: 'samplingMode', option: 'sentry:sampling_mode', requires: 'organizations:dynamic-sampling-custom' },
  { field: 'targetSampleRate', option: 'sentry:target_sample_rate', requires: 'organizations:dynamic-sampling-custom' },
];

export const PROJECT_OPTION_FIELDS: readonly OptionField[] = [
  bool('dataScrubber', 'sentry:scrub_data'),
  bool('dataScrubberDefaults', 'sentry:scrub_defaults'),
  bool('scrubIPAddresses', 'sentry:scrub_ip_address'),
  { field: 'sensitiveFields', option: 'sentry:sensitive_fields', normalize: fieldNames },
  { field: 'safeFields', option: 'sentry:safe_fields', normalize: fieldNames },
  { field: 'relayPiiConfig', option: 'sentry:relay_pii_config' },
  { field: 'allowedDomains', option: 'sentry:origins', normalize: origins, check: originProblems },
  featureOverrides('project'),
  { field: 'targetSampleRate', option: 'sentry:target_sample_rate', requires: 'organizations:dynamic-sampling-custom' },
  { field: 'dynamicSamplingBiases', option: 'sentry:dynamic_sampling_biases', requires: 'organizations:dynamic-sampling' },
];

/** Option keys that only their own field may set (never through `options`). */
export const FIELD_ONLY_OPTIONS: ReadonlyMap<string, string> = new Map([['sentry:feature_overrides', 'featureOverrides']]);

/** The effective feature flags of an organization, or of a project of it, for `requires` checks and responses. */
export function featureCheckOf(defaults: readonly string[], organizationOptions: OptionValues, projectOptions?: OptionValues, templateOptions?: OptionValues | null): FeatureCheck {
  const defaultSet = new Set(defaults);
  const organization = resolveOption('sentry:feature_overrides', organizationOptions);
  const project: FeatureOverrides = projectOptions ? resolveOption('sentry:feature_overrides', projectOptions, templateOptions) : {};
  return (name) => featureEnabled(name, defaultSet, organization, project);
}

/** One option to write: `value` null removes the stored value (lookups fall back again). */
export interface OptionWrite {
  /** What the audit entry calls it: the API field, or the option key for `options`. */
  label: string;
  key: string;
  value: unknown;
  /** Merge into the stored object (null entries remove keys) instead of replacing it. */
  merge?: true;
}

/**
 * Turns the option fields of a body and its `options` object into validated writes, recording
 * every problem in `errors` under the field the client sent. `reserved` maps option keys that
 * have their own field (and so may not be set through `options`) to that field.
 */
export function optionWrites(
  scope: OptionScope,
  fields: readonly OptionField[],
  body: Record<string, unknown>,
  errors: FieldErrors,
  reserved: ReadonlyMap<string, string> = new Map(),
  feature?: FeatureCheck,
): OptionWrite[] {
  const writes: OptionWrite[] = [];
  const validate = (label: string, key: string, raw: unknown, definition?: OptionField) => {
    if (definition?.requires && feature && !feature(definition.requires)) {
      errors.add(label, `Setting "${label}" requires the feature flag "${definition.requires}".`);
      return;
    }
    if (raw === null) {
      writes.push({ label, key, value: null });
      return;
    }
    const value = definition?.normalize ? definition.normalize(raw) : raw;
    const problems = definition?.check?.(value) ?? [];
    if (problems.length > 0) {
      errors.add(label, ...problems);
      return;
    }
    try {
      if (definition?.merge) {
        // Validated without the removals; the merged object is validated again when stored.
        const set = Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== null));
        validateOption(scope, key, set);
        writes.push({ label, key, value, merge: true });
        return;
      }
      writes.push({ label, key, value: validateOption(scope, key, value) });
    } catch (error) {
      if (!(error instanceof OptionValidationError)) throw error;
      errors.add(definition ? label : 'options', error.message);
    }
  };
  for (const definition of fields) {
    if (body[definition.field] !== undefined) validate(definition.field, definition.option, body[definition.field], definition);
  }
  const options = body.options;
  if (options !== undefined) {
    if (!isPlainObject(options)) {
      errors.add('options', 'Must be an object of option key to value.');
    } else {
      const named = new Map([...fields.map((f) => [f.option, f.field] as const), ...FIELD_ONLY_OPTIONS, ...reserved]);
      for (const [key, value] of Object.entries(options)) {
        const field = named.get(key);
        if (field) errors.add('options', `Set "${key}" with the "${field}" field.`);
        else validate(key, key, value);
      }
    }
  }
  return writes;
}

type OptionOwner = { scope: 'organization'; entity: Organization } | { scope: 'project'; entity: Project } | { scope: 'template'; entity: ProjectTemplate };

/**
 * Applies writes in the caller's unit of work; returns the audit wording of each real change
 * (unchanged values write nothing and appear nowhere).
 */
export async function applyOptionWrites(em: EntityManager, owner: OptionOwner, writes: readonly OptionWrite[]): Promise<Record<string, string>> {
  if (writes.length === 0) return {};
  const before = await storedOptions(em, owner);
  const changes: Record<string, string> = {};
  for (const original of writes) {
    const write = original.merge ? { ...original, value: mergedObject(before.get(original.key), original.value as Record<string, unknown>) } : original;
    if (write.value === null) {
      if (await deleteOption(em, owner, write.key)) changes[write.label] = describeChange(before.get(write.key), null, true);
    } else if (await setOption(em, owner, write.key, write.value)) {
      changes[write.label] = describeChange(before.get(write.key), write.value, before.has(write.key));
    }
  }
  return changes;
}

/** The stored object with the incoming entries set and its `null` entries removed; null when nothing is left. */
function mergedObject(stored: unknown, incoming: Record<string, unknown>): Record<string, unknown> | null {
  const merged: Record<string, unknown> = isPlainObject(stored) ? { ...stored } : {};
  for (const [key, value] of Object.entries(incoming)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return Object.keys(merged).length > 0 ? merged : null;
}

/** The effective value of every option field, for responses. */
export function optionFieldValues(fields: readonly OptionField[], own: OptionValues, template?: OptionValues | null): Record<string, unknown> {
  return Object.fromEntries(fields.map((f) => [f.field, resolveOption(f.option, own, template)]));
}

/** Stored options that have no field of their own, for the `options` object of responses. */
export function otherOptions(fields: readonly OptionField[], own: OptionValues, reserved: readonly string[] = []): Record<string, unknown> {
  const named = new Set([...fields.map((f) => f.option), ...reserved]);
  return Object.fromEntries([...own].filter(([key]) => !named.has(key)).sort(([a], [b]) => a.localeCompare(b)));
}

export { projectOptionSources };
