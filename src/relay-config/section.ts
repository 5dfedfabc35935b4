import type { FeatureName } from '../options/features';
import type { OptionValue, OrganizationOptionName, ProjectOptionName } from '../options/registry';
import type { BuildContext, KeyRow, OrganizationRow, ProjectConfigBody, ProjectRow } from './types';

/**
 * A config section: one group of fields of a project config's `config` object, with what it is
 * computed from. The builder runs the sections in order; the loader's columns, the change
 * subscriber's "fields that matter" and the restricted config are derived from the declarations,
 * so a new field cannot silently go stale. A section reading an option it did not declare fails
 * at once (see `guardedLookup`).
 */
export interface ConfigSection {
  /** For messages: the section's file name. */
  name: string;
  /** The `config` fields the section writes. */
  fields: readonly (keyof ProjectConfigBody)[];
  reads: SectionReads;
  /** Whether a trusted external relay's restricted config carries these fields (CONFIG.md). */
  restricted: boolean;
  build(input: SectionInput): Partial<ProjectConfigBody>;
}

export interface SectionReads {
  /** Project options (project value, then template value, then the registered default). */
  projectOptions?: readonly ProjectOptionName[];
  organizationOptions?: readonly OrganizationOptionName[];
  /** Columns of the rows, by entity property name. */
  keyColumns?: readonly (keyof KeyRow)[];
  projectColumns?: readonly (keyof ProjectRow)[];
  organizationColumns?: readonly (keyof OrganizationRow)[];
  /** Feature flags (effective: project override, organization override, server default). */
  features?: readonly FeatureName[];
}

/** Reads one option's effective value, typed by the registry: a misspelt name does not compile. */
export type OptionLookup<N extends string> = <K extends N>(name: K) => K extends ProjectOptionName | OrganizationOptionName ? OptionValue<K> : never;
export type ProjectOptionLookup = OptionLookup<ProjectOptionName>;
export type OrganizationOptionLookup = OptionLookup<OrganizationOptionName>;
/** Whether a feature flag is on for this project. */
export type FeatureLookup = (name: FeatureName) => boolean;

export interface SectionInput {
  key: KeyRow;
  project: ProjectRow;
  organization: OrganizationRow;
  projectOption: ProjectOptionLookup;
  organizationOption: OrganizationOptionLookup;
  feature: FeatureLookup;
  ctx: BuildContext;
}

export const defineSection = (section: ConfigSection): ConfigSection => section;

const NOTHING_DECLARED: readonly string[] = [];
const ALLOWED = new WeakMap<readonly string[], ReadonlySet<string>>();

/** The declared names as a set, made once per declaration (the builder asks for it per section and key). */
function allowedNames(declared: readonly string[] | undefined): ReadonlySet<string> {
  const list = declared ?? NOTHING_DECLARED;
  let allowed = ALLOWED.get(list);
  if (!allowed) ALLOWED.set(list, (allowed = new Set(list)));
  return allowed;
}

/** An option lookup that refuses names the section did not declare: a declaration cannot drift from the code. */
export function guardedLookup<N extends string>(section: string, declared: readonly N[] | undefined, lookup: OptionLookup<N>): OptionLookup<N> {
  const allowed = allowedNames(declared);
  return ((name: N) => {
    if (!allowed.has(name)) throw new Error(`config section "${section}" reads the option "${name}" without declaring it`);
    return lookup(name);
  }) as OptionLookup<N>;
}

/** A feature lookup that refuses flags the section did not declare. */
export function guardedFeatures(section: string, declared: readonly FeatureName[] | undefined, lookup: FeatureLookup): FeatureLookup {
  const allowed = allowedNames(declared);
  return (name) => {
    if (!allowed.has(name)) throw new Error(`config section "${section}" reads the feature flag "${name}" without declaring it`);
    return lookup(name);
  };
}

export function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
