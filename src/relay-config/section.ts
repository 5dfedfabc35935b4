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
  projectOptions?: readonly string[];
  organizationOptions?: readonly string[];
  /** Columns of the rows, by entity property name. */
  keyColumns?: readonly (keyof KeyRow)[];
  projectColumns?: readonly (keyof ProjectRow)[];
  organizationColumns?: readonly (keyof OrganizationRow)[];
}

export type OptionLookup = <T>(name: string) => T;

export interface SectionInput {
  key: KeyRow;
  project: ProjectRow;
  organization: OrganizationRow;
  projectOption: OptionLookup;
  organizationOption: OptionLookup;
  ctx: BuildContext;
}

export const defineSection = (section: ConfigSection): ConfigSection => section;

/** An option lookup that refuses names the section did not declare: a declaration cannot drift from the code. */
export function guardedLookup(section: string, declared: readonly string[] | undefined, lookup: OptionLookup): OptionLookup {
  const allowed = new Set(declared ?? []);
  return <T>(name: string): T => {
    if (!allowed.has(name)) throw new Error(`config section "${section}" reads the option "${name}" without declaring it`);
    return lookup<T>(name);
  };
}

export function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
