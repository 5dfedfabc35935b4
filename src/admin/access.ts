import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Organization, OrganizationMember, Project } from '../db/entities';
import { ConflictError, NotFoundError } from '../errors';
import { requireScope, withinRole, type ApiAuth, type Scope } from './auth';

/**
 * Who may act on what: a superuser, or a member of the organization. Everyone else gets 404 for
 * the organization and everything under it, so its existence is not revealed; only then do the
 * scopes decide (403): a superuser's token scopes, a member's token scopes capped by its role
 * (`withinRole`), as in Sentry.
 */

export interface LookupOptions {
  /** Lock the organization row for the rest of the transaction (serializes settings saves). */
  lock?: boolean;
  /** Refuse changes under an organization that is pending deletion (409). */
  mustBeActive?: boolean;
}

/** An organization the user may act on, with the authentication as it acts there. */
export interface OrganizationAccess {
  organization: Organization;
  auth: ApiAuth;
}

/** The authentication as it acts in the organization: a superuser's as is, a member's capped by its role; null for anyone else. */
export async function organizationAuth(em: EntityManager, auth: ApiAuth, organizationId: number): Promise<ApiAuth | null> {
  if (auth.user.isSuperuser) return auth;
  const member = await em.findOne(OrganizationMember, { organization: organizationId, user: auth.user.id }, { fields: ['role'] });
  return member ? withinRole(auth, member.role) : null;
}

/** The organization named by `slug` when the user may act on it; 404 otherwise (before any scope check). */
export async function visibleOrganization(em: EntityManager, auth: ApiAuth, slug: string, lock = false): Promise<OrganizationAccess> {
  const organization = await em.findOne(Organization, { slug }, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
  const scoped = organization ? await organizationAuth(em, auth, organization.id) : null;
  if (!organization || !scoped) throw new NotFoundError('The requested resource does not exist');
  return { organization, auth: scoped };
}

/** The organization named by `slug`, if the user may act on it and holds one of `anyOf` there. */
export async function organizationFor(em: EntityManager, auth: ApiAuth, slug: string, anyOf: Scope[], options: LookupOptions = {}): Promise<Organization> {
  const access = await visibleOrganization(em, auth, slug, options.lock);
  requireScope(access.auth, ...anyOf);
  if (options.mustBeActive && access.organization.status !== 'active') throw new ConflictError('The organization is pending deletion.');
  return access.organization;
}

/** An active project of an organization the user may act on; 404 for projects pending deletion. */
export async function projectFor(em: EntityManager, auth: ApiAuth, orgSlug: string, projectSlug: string, anyOf: Scope[], options: LookupOptions = {}): Promise<Project> {
  const { organization, auth: scoped } = await visibleOrganization(em, auth, orgSlug);
  const project = await em.findOne(
    Project,
    { organization, slug: projectSlug, status: 'active' },
    { populate: ['team', 'template'], ...(options.lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {}) },
  );
  if (!project) throw new NotFoundError('The requested resource does not exist');
  requireScope(scoped, ...anyOf);
  if (options.mustBeActive && organization.status !== 'active') throw new ConflictError('The organization is pending deletion.');
  return project;
}
