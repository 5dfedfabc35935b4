import type { Request } from 'express';
import type { AuditLogEntry, Organization, Project, ProjectKey, ProjectTemplate, Team, User } from '../db/entities';
import { enabledFeatures } from '../options/features';
import { resolveOption, type OptionValues } from '../options/registry';
import { ORGANIZATION_OPTION_FIELDS, PROJECT_OPTION_FIELDS, optionFieldValues, otherOptions } from '../services/option-fields';
import { keyRateLimit } from '../services/keys';
import { canonicalTrustedRelay } from '../services/trusted-relays';
import { avatarUrl, systemUrlPrefix } from './urls';

/**
 * The JSON of the management API: camelCase, ids as strings, shaped like Sentry's serializers
 * so sentry-cli and people used to Sentry's API can read it.
 */

const iso = (date: Date | string | null | undefined) => (date ? new Date(date).toISOString() : null);

const STATUS_NAMES: Record<string, string> = { active: 'active', pending_deletion: 'pending deletion' };

export function serializeUser(user: User) {
  return {
    id: String(user.id),
    name: user.name || user.email,
    username: user.email,
    email: user.email,
    isSuperuser: user.isSuperuser,
    isActive: user.isActive,
    hasPasswordAuth: false,
    dateJoined: iso(user.dateJoined),
  };
}

/** The organization as lists show it (what sentry-cli needs, and a little more). */
export function serializeOrganization(req: Request, organization: Organization) {
  const origin = systemUrlPrefix(req);
  return {
    id: String(organization.id),
    slug: organization.slug,
    name: organization.name,
    status: { id: organization.status, name: STATUS_NAMES[organization.status] },
    dateCreated: iso(organization.dateCreated),
    isEarlyAdopter: false,
    require2FA: false,
    requireEmailVerification: organization.requireEmailVerification,
    avatar: {
      avatarType: organization.avatarType,
      avatarUuid: organization.avatarUuid ?? null,
      avatarUrl: organization.avatarType === 'upload' && organization.avatarUuid ? avatarUrl(req, organization.avatarUuid) : null,
    },
    features: [] as string[],
    hasAuthProvider: false,
    links: { organizationUrl: origin, regionUrl: origin },
  };
}

const TRUSTED_RELAYS = 'sentry:trusted-relays' as const;

/**
 * The effective feature flags (the server's `DEFAULT_FEATURES`, then the organization's overrides,
 * then the project's), sorted: what `features` shows beside the `featureOverrides` that shape it.
 */
function effectiveFeatures(defaultFeatures: readonly string[], organization: OptionValues, project?: { own: OptionValues; template: OptionValues | null }): string[] {
  const projectOverrides = project ? resolveOption('sentry:feature_overrides', project.own, project.template) : undefined;
  return enabledFeatures(new Set(defaultFeatures), resolveOption('sentry:feature_overrides', organization), projectOverrides);
}

/** The organization with its settings (`options` holds the stored options without a field of their own). */
export function serializeOrganizationDetails(req: Request, organization: Organization, stored: OptionValues, defaultFeatures: readonly string[]) {
  const trustedRelays = resolveOption(TRUSTED_RELAYS, stored).map(canonicalTrustedRelay);
  return {
    ...serializeOrganization(req, organization),
    features: effectiveFeatures(defaultFeatures, stored),
    ...optionFieldValues(ORGANIZATION_OPTION_FIELDS, stored),
    trustedRelays,
    options: otherOptions(ORGANIZATION_OPTION_FIELDS, stored, [TRUSTED_RELAYS]),
  };
}

export function serializeTeam(team: Team) {
  return { id: String(team.id), slug: team.slug, name: team.name, dateCreated: iso(team.dateCreated) };
}

/** The project as lists show it; `team` only when it has one (sentry-cli prints it). */
export function serializeProject(project: Project) {
  const team = project.team ? serializeTeam(project.team) : null;
  const organization = project.organization;
  return {
    id: String(project.id),
    slug: project.slug,
    name: project.name,
    platform: project.platform ?? null,
    status: project.status,
    dateCreated: iso(project.dateCreated),
    isMember: true,
    hasAccess: true,
    features: [] as string[],
    firstEvent: null,
    organization: { id: String(organization.id), slug: organization.slug, name: organization.name },
    ...(team ? { team } : {}),
    teams: team ? [team] : [],
    templateId: project.template ? String(project.template.id) : null,
  };
}

/**
 * The project with its settings: effective values (own, else template, else default), and its own
 * other options; `features` also depends on the organization's overrides.
 */
export function serializeProjectDetails(project: Project, own: OptionValues, template: OptionValues | null, organizationOptions: OptionValues, defaultFeatures: readonly string[]) {
  return {
    ...serializeProject(project),
    features: effectiveFeatures(defaultFeatures, organizationOptions, { own, template }),
    ...optionFieldValues(PROJECT_OPTION_FIELDS, own, template),
    options: otherOptions(PROJECT_OPTION_FIELDS, own),
  };
}

/** A DSN key; the DSN is built from `SYSTEM_URL_PREFIX` (a path in it stays in the DSN, as SDKs expect). */
export function serializeKey(req: Request, key: ProjectKey) {
  const projectId = (key.project).id;
  const url = new URL(systemUrlPrefix(req));
  const path = url.pathname.replace(/\/+$/, '');
  const dsn = (credentials: string) => `${url.protocol}//${credentials}@${url.host}${path}/${projectId}`;
  return {
    id: key.publicKey,
    name: key.label ?? null,
    label: key.label ?? null,
    public: key.publicKey,
    secret: key.secretKey,
    projectId,
    isActive: key.status === 'active',
    rateLimit: keyRateLimit(key),
    dsn: { public: dsn(key.publicKey), secret: dsn(`${key.publicKey}:${key.secretKey}`) },
    dateCreated: iso(key.dateAdded),
  };
}

export function serializeTemplate(template: ProjectTemplate, options: OptionValues) {
  return {
    id: String(template.id),
    name: template.name,
    options: Object.fromEntries([...options].sort(([a], [b]) => a.localeCompare(b))),
    dateCreated: iso(template.dateCreated),
    dateUpdated: iso(template.updatedAt),
  };
}

export function serializeAuditEntry(entry: AuditLogEntry) {
  const actor = entry.actor;
  return {
    id: String(entry.id),
    actor: actor ? { id: String(actor.id), name: actor.name || actor.email, username: actor.email, email: actor.email } : null,
    actorLabel: entry.actorLabel ?? null,
    event: entry.event,
    ipAddress: entry.ipAddress ?? null,
    targetObject: entry.targetObject ?? null,
    data: entry.data,
    dateCreated: iso(entry.dateCreated),
  };
}
