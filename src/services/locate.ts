import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Organization, Project } from '../db/entities';
import { ConflictError, NotFoundError } from '../errors';

/**
 * What a use case acts on, found inside its transaction by the caller's own rules: the API checks
 * the token's scopes and the user's role there (admin/access.ts), the CLI acts as the operator
 * and finds by slug. The use case then applies the same rules whoever called it.
 */
export type Locate<T> = (em: EntityManager) => Promise<T>;

const NOT_FOUND = 'The requested resource does not exist';

export interface OperatorLookup {
  /** Lock the row for the rest of the transaction (serializes settings saves). */
  lock?: boolean;
  /** Refuse changes under an organization that is pending deletion (409). */
  mustBeActive?: boolean;
}

/** The organization named by `slug`, for callers that act as the operator (no token, no role). */
export function organizationBySlug(slug: string, options: OperatorLookup = {}): Locate<Organization> {
  return async (em) => {
    const organization = await em.findOne(Organization, { slug }, options.lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
    if (!organization) throw new NotFoundError(NOT_FOUND);
    if (options.mustBeActive && organization.status !== 'active') throw new ConflictError('The organization is pending deletion.');
    return organization;
  };
}

/** An active project named by its organization's slug and its own, for callers that act as the operator. */
export function projectBySlug(orgSlug: string, projectSlug: string, options: OperatorLookup = {}): Locate<Project> {
  return async (em) => {
    const organization = await organizationBySlug(orgSlug)(em);
    const project = await em.findOne(
      Project,
      { organization, slug: projectSlug, status: 'active' },
      { populate: ['team', 'template'], ...(options.lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {}) },
    );
    if (!project) throw new NotFoundError(NOT_FOUND);
    if (options.mustBeActive && organization.status !== 'active') throw new ConflictError('The organization is pending deletion.');
    return project;
  };
}

/**
 * The unchecked input of a use case, read once its target is found (inside the transaction): a
 * caller without access gets the access error whatever it sent, as the API always answered.
 */
export type ReadInput = () => Record<string, unknown>;
