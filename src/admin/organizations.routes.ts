import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Request, Router } from 'express';
import { z } from 'zod';
import { disableKeysOnCommit } from '../db/config-change-subscriber';
import { AuditLogEntry, Organization, OrganizationAvatar, OrganizationMember, ProjectKey, type User } from '../db/entities';
import { setOption, storedOptions } from '../db/option-store';
import { resolveOption, type TrustedRelay } from '../options/registry';
import { scheduleRemoveUnverifiedMembers } from '../queues/email-verification.queue';
import { ConflictError } from '../errors';
import { organizationFor } from './access';
import { AUDIT_EVENTS, describeChange, recordAudit } from '../services/audit';
import { authOf, emOf, requireScope, requestActor } from './auth';
import { decodeAvatar, type ImageInfo } from '../services/avatars';
import { ORGANIZATION_OPTION_FIELDS, applyOptionWrites, optionWrites } from '../services/option-fields';
import { paginate } from './pagination';
import type { AdminDeps } from './deps';
import { serializeAuditEntry, serializeOrganization, serializeOrganizationDetails } from './serializers';
import { canonicalTrustedRelay, mergeTrustedRelays, validateTrustedRelays, type TrustedRelayInput } from '../services/trusted-relays';
import { conflictOnDuplicate, createFieldErrors, nameSchema, parseBody, slugOrDerived, slugSchema, unknownFields, type FieldErrors } from '../services/validation';
import { jsonBody, pathParam } from './validation';

/** Organizations: create, list, read, settings (ADMIN_API.md), scheduled deletion, audit log. */

const TRUSTED_RELAYS = 'sentry:trusted-relays';
const ORG_NAME_MAX = 64;

const createSchema = z.strictObject({ name: nameSchema(ORG_NAME_MAX), slug: slugSchema.optional() });

const basicsSchema = z.object({
  name: nameSchema(ORG_NAME_MAX).optional(),
  slug: slugSchema.optional(),
  avatarType: z.enum(['letter_avatar', 'upload'], { error: 'Must be "letter_avatar" or "upload".' }).optional(),
  requireEmailVerification: z.boolean({ error: 'Must be a boolean.' }).optional(),
});

const UPDATE_FIELDS = ['name', 'slug', 'avatarType', 'avatar', 'requireEmailVerification', 'trustedRelays', 'options', ...ORGANIZATION_OPTION_FIELDS.map((f) => f.field)];

async function detailsOf(req: Request, em: EntityManager, organization: Organization) {
  return serializeOrganizationDetails(req, organization, await storedOptions(em, { scope: 'organization', entity: organization }));
}

/** The avatar change a PUT asks for, checked; null when it asks for none. */
function avatarChange(body: Record<string, unknown>, avatarType: 'letter_avatar' | 'upload' | undefined, organization: Organization, errors: FieldErrors) {
  if (body.avatar === undefined && avatarType === undefined) return null;
  // Like Sentry, an image without a type is an upload.
  const type = avatarType ?? 'upload';
  if (type === 'letter_avatar') {
    if (body.avatar !== undefined && body.avatar !== null) errors.add('avatar', 'An avatar image needs avatarType "upload".');
    return { type, image: null };
  }
  if (body.avatar === undefined || body.avatar === null) {
    if (!organization.avatarUuid) errors.add('avatarType', 'Cannot set avatarType to upload without avatar.');
    return { type, image: null };
  }
  const decoded = decodeAvatar(body.avatar);
  if (typeof decoded === 'string') {
    errors.add('avatar', decoded);
    return null;
  }
  return { type, image: decoded };
}

async function applyAvatar(em: EntityManager, organization: Organization, change: { type: 'letter_avatar' | 'upload'; image: { bytes: Buffer; info: ImageInfo } | null }, changes: Record<string, string>) {
  const before = { type: organization.avatarType, uuid: organization.avatarUuid ?? null };
  if (change.type === 'letter_avatar') {
    if (before.uuid) await em.nativeDelete(OrganizationAvatar, { organization });
    organization.avatarType = 'letter_avatar';
    organization.avatarUuid = null;
  } else if (change.image) {
    const uuid = randomUUID();
    // The previous image is no longer reachable once the organization points at the new one.
    await em.nativeDelete(OrganizationAvatar, { organization });
    em.create(OrganizationAvatar, { organization, uuid, contentType: change.image.info.contentType, file: change.image.bytes });
    organization.avatarType = 'upload';
    organization.avatarUuid = uuid;
  } else {
    organization.avatarType = 'upload';
  }
  if (organization.avatarType !== before.type) changes.avatarType = describeChange(before.type, organization.avatarType, true);
  if ((organization.avatarUuid ?? null) !== before.uuid) changes.avatarUuid = describeChange(before.uuid, organization.avatarUuid ?? null, before.uuid !== null);
}

/** Saves the trusted relays; returns the audit wording, or null when the list is unchanged. */
async function applyTrustedRelays(em: EntityManager, organization: Organization, incoming: TrustedRelayInput[]): Promise<string | null> {
  const stored = await storedOptions(em, { scope: 'organization', entity: organization });
  const current = resolveOption<TrustedRelay[]>(TRUSTED_RELAYS, stored).map(canonicalTrustedRelay);
  const { value, changed } = mergeTrustedRelays(current, incoming, new Date());
  if (!changed) return null;
  await setOption(em, { scope: 'organization', entity: organization }, TRUSTED_RELAYS, value);
  return describeChange(current, value, stored.has(TRUSTED_RELAYS));
}

export function registerOrganizationRoutes(api: Router, { container, authed }: AdminDeps): void {
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
    const body = parseBody(createSchema, jsonBody(req));
    const slug = slugOrDerived(body.slug, body.name);
    const duplicate = 'An organization with this slug already exists.';
    const organization = await conflictOnDuplicate(
      () =>
        emOf(req).transactional(async (em) => {
          if ((await em.count(Organization, { slug })) > 0) throw new ConflictError(duplicate);
          const created = em.create(Organization, { slug, name: body.name });
          em.create(OrganizationMember, { organization: created, user: auth.user, role: 'owner' });
          await em.flush();
          recordAudit(em, { organization: created, event: 'org.add', actor: requestActor(req), targetObject: created.id, data: { slug, name: body.name } });
          return created;
        }),
      duplicate,
    );
    res.status(201).json(await detailsOf(req, emOf(req), organization));
  });

  api.get('/organizations/:org/', ...authed, async (req, res) => {
    const em = emOf(req);
    const organization = await organizationFor(em, authOf(req), pathParam(req, 'org'), ['org:read']);
    res.json(await detailsOf(req, em, organization));
  });

  api.put('/organizations/:org/', ...authed, async (req, res) => {
    const auth = authOf(req);
    const body = jsonBody(req);
    // The slug check inside can race with another organization taking the slug: 409 then.
    const organization = await conflictOnDuplicate(
      () =>
        emOf(req).transactional(async (em) => {
          const organization = await organizationFor(em, auth, pathParam(req, 'org'), ['org:write'], { lock: true, mustBeActive: true });

          const errors = createFieldErrors();
          unknownFields(body, UPDATE_FIELDS, errors);
          const basics = errors.parse(basicsSchema, body) ?? {};
          if (basics.slug !== undefined && basics.slug !== organization.slug && (await em.count(Organization, { slug: basics.slug })) > 0) {
            errors.add('slug', `The slug "${basics.slug}" is already in use.`);
          }
          const avatar = avatarChange(body, basics.avatarType, organization, errors);
          let trustedRelays: TrustedRelayInput[] | undefined;
          if (body.trustedRelays !== undefined) {
            const checked = validateTrustedRelays(body.trustedRelays);
            if (checked.ok) trustedRelays = checked.value;
            else errors.add('trustedRelays', ...checked.errors);
          }
          const writes = optionWrites('organization', ORGANIZATION_OPTION_FIELDS, body, errors, new Map([[TRUSTED_RELAYS, 'trustedRelays']]));
          errors.throwIfAny();

          // Everything is valid: apply, collecting what really changed for the one audit entry.
          const changes: Record<string, string> = {};
          if (basics.name !== undefined && basics.name !== organization.name) {
            changes.name = describeChange(organization.name, basics.name, true);
            organization.name = basics.name;
          }
          if (basics.slug !== undefined && basics.slug !== organization.slug) {
            changes.slug = describeChange(organization.slug, basics.slug, true);
            organization.slug = basics.slug;
          }
          if (basics.requireEmailVerification !== undefined && basics.requireEmailVerification !== organization.requireEmailVerification) {
            changes.requireEmailVerification = describeChange(organization.requireEmailVerification, basics.requireEmailVerification, true);
            organization.requireEmailVerification = basics.requireEmailVerification;
          }
          if (avatar) await applyAvatar(em, organization, avatar, changes);
          if (trustedRelays) {
            const change = await applyTrustedRelays(em, organization, trustedRelays);
            if (change !== null) changes.trustedRelays = change;
          }
          Object.assign(changes, await applyOptionWrites(em, { scope: 'organization', entity: organization }, writes));
          if (Object.keys(changes).length > 0) {
            recordAudit(em, { organization, event: 'org.edit', actor: requestActor(req), targetObject: organization.id, data: changes });
          }
          return organization;
        }),
      'The slug is already in use.',
    );
    if (organization.requireEmailVerification && body.requireEmailVerification === true) {
      // After the commit, so the job sees the setting; idempotent, so a retried PUT may schedule it again.
      await scheduleRemoveUnverifiedMembers(container.queues['email-verification'], organization.id);
    }
    res.json(await detailsOf(req, emOf(req), organization));
  });

  api.delete('/organizations/:org/', ...authed, async (req, res) => {
    const organization = await emOf(req).transactional(async (em) => {
      const organization = await organizationFor(em, authOf(req), pathParam(req, 'org'), ['org:admin'], { lock: true });
      if (organization.status === 'active') {
        organization.status = 'pending_deletion';
        const keys = await em.find(ProjectKey, { project: { organization } }, { fields: ['publicKey'] });
        // Takes every key out of use as soon as this commits (ADMIN_API.md, "Deletion").
        disableKeysOnCommit(em, { scope: 'organization', organizationId: organization.id, trigger: 'organization.delete' }, keys.map((k) => k.publicKey));
        recordAudit(em, { organization, event: 'org.remove', actor: requestActor(req), targetObject: organization.id, data: { slug: organization.slug, name: organization.name } });
      }
      return organization;
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
