import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Organization, OrganizationMember, Project } from '../db/entities';
import { ConflictError, NotFoundError } from '../errors';
import { requireScope, type ApiAuth, type Scope } from './auth';

/**
 * Who may act on what: a superuser, or a member of the organization. Everyone else gets 404 for
 * the organization and everything under it, so its existence is not revealed; only then does
 * the token's scope decide (403).
 */

export interface LookupOptions {
  /** Lock the organization row for the rest of the transaction (serializes settings saves). */
  lock?: boolean;
  /** Refuse changes under an organization that is pending deletion (409). */
  mustBeActive?: boolean;
}

/** Whether the user may act on this organization at all (superuser or member). */
export async function canAccessOrganization(em: EntityManager, auth: ApiAuth, organizationId: number): Promise<boolean> {
  if (auth.user.isSuperuser) return true;
  return (await em.count(OrganizationMember, { organization: organizationId, user: auth.user.id })) > 0;
}

/** The organization named by `slug` when the user may act on it; 404 otherwise (before any scope check). */
export async function visibleOrganization(em: EntityManager, auth: ApiAuth, slug: string, lock = false): Promise<Organization> {
  const organization = await em.findOne(Organization, { slug }, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
  if (!organization || !(await canAccessOrganization(em, auth, organization.id))) throw new NotFoundError('The requested resource does not exist');
  return organization;
}

/** The organization named by `slug`, if the user may act on it and the token holds one of `anyOf`. */
export async function organizationFor(em: EntityManager, auth: ApiAuth, slug: string, anyOf: Scope[], options: LookupOptions = {}): Promise<Organization> {
  const organization = await visibleOrganization(em, auth, slug, options.lock);
  requireScope(auth, ...anyOf);
  if (options.mustBeActive && organization.status !== 'active') throw new ConflictError('The organization is pending deletion.');
  return organization;
}

/** An active project of an organization the user may act on; 404 for projects pending deletion. */
export async function projectFor(em: EntityManager, auth: ApiAuth, orgSlug: string, projectSlug: string, anyOf: Scope[], options: LookupOptions = {}): Promise<Project> {
  const organization = await visibleOrganization(em, auth, orgSlug);
  const project = await em.findOne(
    Project,
    { organization, slug: projectSlug, status: 'active' },
    { populate: ['team', 'template'], ...(options.lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {}) },
  );
  if (!project) throw new NotFoundError('The requested resource does not exist');
  requireScope(auth, ...anyOf);
  if (options.mustBeActive && organization.status !== 'active') throw new ConflictError('The organization is pending deletion.');
  return project;
}
