import type { EntityManager } from '@mikro-orm/postgresql';
import type { Organization, Project, ProjectTemplate } from '../db/entities';
import { deleteOption, setOption, storedOptions } from '../db/option-store';
import { OptionValidationError, resolveOption, validateOption, type OptionScope, type OptionValues } from '../options/registry';
import { describeChange } from './audit';
import { isPlainObject, type FieldErrors } from './validation';

/**
 * The settings of the organization and project PUTs that are options (ADMIN_API.md, "Settings →
 * options"): API field ↔ option key, input normalization as Sentry does it, validation through
 * the option registry, and the audit wording of what changed.
 */

export interface OptionField {
  /** The camelCase API field. */
  field: string;
  option: string;
  /** Cleans the input before validation (the registry reports what is still wrong). */
  normalize?: (value: unknown) => unknown;
  /** Extra checks beyond the registry's schema; returns error messages. */
  check?: (value: unknown) => string[];
}

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

const bool = (field: string, option: string): OptionField => ({ field, option });

export const ORGANIZATION_OPTION_FIELDS: readonly OptionField[] = [
  bool('dataScrubber', 'sentry:require_scrub_data'),
  bool('dataScrubberDefaults', 'sentry:require_scrub_defaults'),
  bool('scrubIPAddresses', 'sentry:require_scrub_ip_address'),
  { field: 'sensitiveFields', option: 'sentry:sensitive_fields', normalize: fieldNames },
  { field: 'safeFields', option: 'sentry:safe_fields', normalize: fieldNames },
  { field: 'relayPiiConfig', option: 'sentry:relay_pii_config' },
  { field: 'eventRetention', option: 'sentry:event_retention' },
];

export const PROJECT_OPTION_FIELDS: readonly OptionField[] = [
  bool('dataScrubber', 'sentry:scrub_data'),
  bool('dataScrubberDefaults', 'sentry:scrub_defaults'),
  bool('scrubIPAddresses', 'sentry:scrub_ip_address'),
  { field: 'sensitiveFields', option: 'sentry:sensitive_fields', normalize: fieldNames },
  { field: 'safeFields', option: 'sentry:safe_fields', normalize: fieldNames },
  { field: 'relayPiiConfig', option: 'sentry:relay_pii_config' },
  { field: 'allowedDomains', option: 'sentry:origins', normalize: origins, check: originProblems },
];

/** One option to write: `value` null removes the stored value (lookups fall back again). */
export interface OptionWrite {
  /** What the audit entry calls it: the API field, or the option key for `options`. */
  label: string;
  key: string;
  value: unknown;
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
): OptionWrite[] {
  const writes: OptionWrite[] = [];
  const validate = (label: string, key: string, raw: unknown, definition?: OptionField) => {
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
      const named = new Map([...fields.map((f) => [f.option, f.field] as const), ...reserved]);
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
  for (const write of writes) {
    if (write.value === null) {
      if (await deleteOption(em, owner, write.key)) changes[write.label] = describeChange(before.get(write.key), null, true);
    } else if (await setOption(em, owner, write.key, write.value)) {
      changes[write.label] = describeChange(before.get(write.key), write.value, before.has(write.key));
    }
  }
  return changes;
}

/** A project's stored options and its template's, from which effective values resolve. */
export async function projectOptionSources(em: EntityManager, project: Project): Promise<{ own: OptionValues; template: OptionValues | null }> {
  const own = await storedOptions(em, { scope: 'project', entity: project });
  const template = project.template ? await storedOptions(em, { scope: 'template', entity: project.template }) : null;
  return { own, template };
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
