import type { EntityManager } from '@mikro-orm/postgresql';
import type { Request, Router } from 'express';
import { AuditLogEntry, Organization, OrganizationMember, type User } from '../db/entities';
import { storedOptions } from '../db/option-store';
import { AUDIT_EVENTS } from '../services/audit';
import { createOrganization, deleteOrganization, updateOrganizationSettings } from '../services/organizations';
import { createFieldErrors } from '../services/validation';
import { organizationFor } from './access';
import { authOf, emOf, requestActor, requireScope } from './auth';
import { paginate } from './pagination';
import type { AdminDeps } from './deps';
import { serializeAuditEntry, serializeOrganization, serializeOrganizationDetails } from './serializers';
import { jsonBody, pathParam } from './validation';

/** Organizations: create, list, read, settings (ADMIN_API.md), scheduled deletion, audit log. The use cases live in services/organizations.ts. */

async function organizationDetails(req: Request, em: EntityManager, organization: Organization, defaultFeatures: readonly string[]) {
  return serializeOrganizationDetails(req, organization, await storedOptions(em, { scope: 'organization', entity: organization }), defaultFeatures);
}

export function registerOrganizationRoutes(api: Router, { container, authed }: AdminDeps): void {
  const detailsOf = (req: Request, em: EntityManager, organization: Organization) => organizationDetails(req, em, organization, container.settings.defaultFeatures);
  api.get('/organizations/', ...authed, async (req, res) => {
    const auth = authOf(req);
    requireScope(auth, 'org:read');
    const em = emOf(req);
    const where = auth.user.isSuperuser ? { status: 'active' as const } : { status: 'active' as const, id: { $in: await memberOrganizationIds(em, auth.user) } };
    const organizations = await paginate(req, res, (offset, limit) => em.find(Organization, where, { orderBy: { name: 'asc', id: 'asc' }, offset, limit }));
    res.json(organizations.map((o) => serializeOrganization(req, o)));
  });

  api.post('/organizations/', ...authed, async (req, res) => {
    const auth = authOf(req);
    requireScope(auth, 'org:write');
    const organization = await createOrganization(emOf(req), { actor: requestActor(req), owner: auth.user, input: jsonBody(req) });
    res.status(201).json(await detailsOf(req, emOf(req), organization));
  });

  api.get('/organizations/:org/', ...authed, async (req, res) => {
    const em = emOf(req);
    const organization = await organizationFor(em, authOf(req), pathParam(req, 'org'), ['org:read']);
    res.json(await detailsOf(req, em, organization));
  });

  api.put('/organizations/:org/', ...authed, async (req, res) => {
    const auth = authOf(req);
    const input = jsonBody(req);
    const organization = await updateOrganizationSettings(emOf(req), { emailVerification: container.queues['email-verification'], defaultFeatures: container.settings.defaultFeatures }, {
      actor: requestActor(req),
      target: (em) => organizationFor(em, auth, pathParam(req, 'org'), ['org:write'], { lock: true, mustBeActive: true }),
      input,
    });
    res.json(await detailsOf(req, emOf(req), organization));
  });

  api.delete('/organizations/:org/', ...authed, async (req, res) => {
    const organization = await deleteOrganization(emOf(req), {
      actor: requestActor(req),
      target: (em) => organizationFor(em, authOf(req), pathParam(req, 'org'), ['org:admin'], { lock: true }),
    });
    res.status(202).json(await detailsOf(req, emOf(req), organization));
  });

  api.get('/organizations/:org/audit-logs/', ...authed, async (req, res) => {
    const em = emOf(req);
    // As Sentry's OrganizationAuditPermission: the log shows who changed what, more than a reader may see.
    const organization = await organizationFor(em, authOf(req), pathParam(req, 'org'), ['org:write']);
    const event = req.query.event;
    const errors = createFieldErrors();
    if (event !== undefined && (typeof event !== 'string' || !(AUDIT_EVENTS as readonly string[]).includes(event))) {
      errors.add('event', `Unknown event; use one of ${AUDIT_EVENTS.join(', ')}.`);
    }
    errors.throwIfAny();
    const where = { organization, ...(typeof event === 'string' ? { event } : {}) };
    const rows = await paginate(req, res, (offset, limit) =>
      em.find(AuditLogEntry, where, { populate: ['actor'], orderBy: { dateCreated: 'desc', id: 'desc' }, offset, limit }),
    );
    res.json({ rows: rows.map(serializeAuditEntry), options: [...AUDIT_EVENTS] });
  });
}

async function memberOrganizationIds(em: EntityManager, user: User): Promise<number[]> {
  const memberships = await em.find(OrganizationMember, { user }, { fields: ['organization'] });
  return memberships.map((m) => (m.organization as Organization).id);
}
