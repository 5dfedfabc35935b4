import { featureEnabled } from '../options/features';
import { resolveOption, type OrganizationOptionName, type ProjectOptionName } from '../options/registry';
import { guardedFeatures, guardedLookup, type FeatureLookup, type OrganizationOptionLookup, type ProjectOptionLookup, type SectionInput } from './section';
import { CONFIG_SECTIONS } from './sections';
import type { BuildContext, DisabledConfig, KeyRow, ProjectConfig, ProjectConfigBody, ProjectConfigInput } from './types';

/**
 * The config builder: a pure function from loaded rows to the project config Relay parses
 * (CONFIG.md). No I/O; "now", the server settings and the rev come in through `BuildContext`.
 * The `config` object is the sections' output, in the order of `CONFIG_SECTIONS`.
 */

/**
 * The version of what configs contain. Bump it with every change to what a build writes (a new
 * field, a changed default): workers that start with a newer format than the one stamped in Redis
 * recompute every cached config in place (jobs/recompute-all-configs.processor.ts), so Relays
 * never see the upgrade as a gap. 2: the full config of Sentry (issue 10). 3: the gzip entry stored
 * in segments under a new key (`:entry.gz`), its shared texts referred back to in a reply, so every
 * cached config gets one at once instead of compressing per request until it is rebuilt.
 */
export const CONFIG_FORMAT = 3;

export const DISABLED_CONFIG: DisabledConfig = Object.freeze({ disabled: true as const });

export { allowedDomains } from './sections/allowed-domains';
export { DEFAULT_CSP_DISALLOWED_SOURCES, HEALTH_CHECK_GLOBS } from './sections/filter-settings';

/** Builds the config of one public key; `{"disabled":true}` for unknown or inactive keys and projects. */
export function buildProjectConfig(input: ProjectConfigInput, ctx: BuildContext): ProjectConfig {
  const { key, project, organization } = input;
  if (!key || key.status !== 'active' || !project || project.status !== 'active' || !organization || organization.status !== 'active') {
    return DISABLED_CONFIG;
  }
  const now = ctx.now.toISOString();
  const listedKeys = input.projectKeys ? orderedActiveKeys(input.projectKeys, key) : [key];
  return {
    disabled: false,
    projectId: project.id,
    organizationId: organization.id,
    slug: project.slug,
    lastChange: now,
    lastFetch: now,
    rev: ctx.newRev(),
    publicKeys: listedKeys.map((k) => ({ publicKey: k.publicKey, numericId: k.id, isEnabled: true as const })),
    config: buildConfigBody({ ...input, key, project, organization }, ctx),
  };
}

/** The requested key first (Relay requires it), then the project's other active keys. */
function orderedActiveKeys(all: KeyRow[], requested: KeyRow): KeyRow[] {
  return [requested, ...all.filter((k) => k.status === 'active' && k.publicKey !== requested.publicKey)];
}

type FoundInput = ProjectConfigInput & Pick<SectionInput, 'key' | 'project' | 'organization'>;

function buildConfigBody(input: FoundInput, ctx: BuildContext): ProjectConfigBody {
  const projectOption = ((name: ProjectOptionName) => resolveOption(name, input.projectOptions, input.templateOptions)) as ProjectOptionLookup;
  const organizationOption = ((name: OrganizationOptionName) => resolveOption(name, input.organizationOptions)) as OrganizationOptionLookup;
  const organizationOverrides = resolveOption('sentry:feature_overrides', input.organizationOptions);
  const projectOverrides = resolveOption('sentry:feature_overrides', input.projectOptions, input.templateOptions);
  const feature: FeatureLookup = (name) => featureEnabled(name, ctx.defaultFeatures, organizationOverrides, projectOverrides);
  const body: Partial<ProjectConfigBody> = {};
  for (const section of CONFIG_SECTIONS) {
    Object.assign(
      body,
      section.build({
        key: input.key,
        project: input.project,
        organization: input.organization,
        projectOption: guardedLookup(section.name, section.reads.projectOptions, projectOption),
        organizationOption: guardedLookup(section.name, section.reads.organizationOptions, organizationOption),
        feature: guardedFeatures(section.name, section.reads.features, feature),
        ctx,
      }),
    );
  }
  return body as ProjectConfigBody;
}
