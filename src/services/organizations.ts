import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { disableKeysOnCommit } from '../db/config-change-subscriber';
import { Organization, OrganizationAvatar, OrganizationMember, ProjectKey, type User } from '../db/entities';
import { setOption, storedOptions } from '../db/option-store';
import { ConflictError } from '../errors';
import { resolveOption } from '../options/registry';
import { scheduleRemoveUnverifiedMembers, type EmailVerificationQueue } from '../queues/email-verification.queue';
import { describeChange, recordAudit, type AuditActor } from './audit';
import { decodeAvatar, type ImageInfo } from './avatars';
import type { Locate } from './locate';
import { ORGANIZATION_OPTION_FIELDS, applyOptionWrites, featureCheckOf, optionWrites } from './option-fields';
import { canonicalTrustedRelay, mergeTrustedRelays, validateTrustedRelays, type TrustedRelayInput } from './trusted-relays';
import { conflictOnDuplicate, createFieldErrors, nameSchema, parseBody, slugOrDerived, slugSchema, unknownFields, type FieldErrors } from './validation';

/**
 * Organizations: creation with its owner, the settings save (ADMIN_API.md, "Settings": basics,
 * avatar, trusted relays, options, e-mail verification) with its one audit entry, and the
 * scheduled deletion. Every change is one transaction; the config-change subscriber invalidates
 * what it touched when that commits.
 */

export const TRUSTED_RELAYS_OPTION = 'sentry:trusted-relays' as const;
const ORG_NAME_MAX = 64;

const createSchema = z.strictObject({ name: nameSchema(ORG_NAME_MAX), slug: slugSchema.optional() });

const basicsSchema = z.object({
  name: nameSchema(ORG_NAME_MAX).optional(),
  slug: slugSchema.optional(),
  avatarType: z.enum(['letter_avatar', 'upload'], { error: 'Must be "letter_avatar" or "upload".' }).optional(),
  requireEmailVerification: z.boolean({ error: 'Must be a boolean.' }).optional(),
});

const UPDATE_FIELDS = ['name', 'slug', 'avatarType', 'avatar', 'requireEmailVerification', 'trustedRelays', 'options', ...ORGANIZATION_OPTION_FIELDS.map((f) => f.field)];

export interface CreateOrganization {
  actor: AuditActor;
  /** Becomes the organization's owner. */
  owner: User;
  /** `{name, slug?}`, unchecked. */
  input: unknown;
}

/** Creates an organization owned by `owner`; 409 when the slug is taken. */
export async function createOrganization(em: EntityManager, { actor, owner, input }: CreateOrganization): Promise<Organization> {
  const body = parseBody(createSchema, input);
  const slug = slugOrDerived(body.slug, body.name);
  const duplicate = 'An organization with this slug already exists.';
  return conflictOnDuplicate(
    () =>
      em.transactional(async (tem) => {
        if ((await tem.count(Organization, { slug })) > 0) throw new ConflictError(duplicate);
        const created = tem.create(Organization, { slug, name: body.name });
        tem.create(OrganizationMember, { organization: created, user: owner, role: 'owner' });
        await tem.flush();
        recordAudit(tem, { organization: created, event: 'org.add', actor, targetObject: created.id, data: { slug, name: body.name } });
        return created;
      }),
    duplicate,
  );
}

type AvatarType = 'letter_avatar' | 'upload';
interface AvatarChange {
  type: AvatarType;
  image: { bytes: Buffer; info: ImageInfo } | null;
}

/** The avatar change a save asks for, checked; null when it asks for none. */
function avatarChange(input: Record<string, unknown>, avatarType: AvatarType | undefined, organization: Organization, errors: FieldErrors): AvatarChange | null {
  if (input.avatar === undefined && avatarType === undefined) return null;
  // Like Sentry, an image without a type is an upload.
  const type = avatarType ?? 'upload';
  if (type === 'letter_avatar') {
    if (input.avatar !== undefined && input.avatar !== null) errors.add('avatar', 'An avatar image needs avatarType "upload".');
    return { type, image: null };
  }
  if (input.avatar === undefined || input.avatar === null) {
    if (!organization.avatarUuid) errors.add('avatarType', 'Cannot set avatarType to upload without avatar.');
    return { type, image: null };
  }
  const decoded = decodeAvatar(input.avatar);
  if (typeof decoded === 'string') {
    errors.add('avatar', decoded);
    return null;
  }
  return { type, image: decoded };
}

async function applyAvatar(em: EntityManager, organization: Organization, change: AvatarChange, changes: Record<string, string>): Promise<void> {
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
  const current = resolveOption(TRUSTED_RELAYS_OPTION, stored).map(canonicalTrustedRelay);
  const { value, changed } = mergeTrustedRelays(current, incoming, new Date());
  if (!changed) return null;
  await setOption(em, { scope: 'organization', entity: organization }, TRUSTED_RELAYS_OPTION, value);
  return describeChange(current, value, stored.has(TRUSTED_RELAYS_OPTION));
}

export interface OrganizationServiceDeps {
  /** Where the clean-up of members without a verified e-mail address is scheduled. */
  emailVerification: EmailVerificationQueue;
  /** The server's `DEFAULT_FEATURES`: what feature-gated settings are checked against. */
  defaultFeatures: readonly string[];
}

export interface UpdateOrganization {
  actor: AuditActor;
  /** Finds and locks the organization (an organization pending deletion takes no changes). */
  target: Locate<Organization>;
  /** The settings to change, unchecked (ADMIN_API.md, "Settings"): absent fields stay as they are. */
  input: Record<string, unknown>;
}

/**
 * Saves an organization's settings: every field is checked first and all problems are reported
 * in one `ValidationError`; then only what really changed is written and described in one
 * `org.edit` audit entry. Turning on `requireEmailVerification` schedules the removal of members
 * without a verified address once the change is committed.
 */
export async function updateOrganizationSettings(em: EntityManager, deps: OrganizationServiceDeps, { actor, target, input }: UpdateOrganization): Promise<Organization> {
  // The slug check inside can race with another organization taking the slug: 409 then.
  const organization = await conflictOnDuplicate(
    () =>
      em.transactional(async (tem) => {
        const organization = await target(tem);

        const errors = createFieldErrors();
        unknownFields(input, UPDATE_FIELDS, errors);
        const basics = errors.parse(basicsSchema, input) ?? {};
        if (basics.slug !== undefined && basics.slug !== organization.slug && (await tem.count(Organization, { slug: basics.slug })) > 0) {
          errors.add('slug', `The slug "${basics.slug}" is already in use.`);
        }
        const avatar = avatarChange(input, basics.avatarType, organization, errors);
        let trustedRelays: TrustedRelayInput[] | undefined;
        if (input.trustedRelays !== undefined) {
          const checked = validateTrustedRelays(input.trustedRelays);
          if (checked.ok) trustedRelays = checked.value;
          else errors.add('trustedRelays', ...checked.errors);
        }
        const features = featureCheckOf(deps.defaultFeatures, await storedOptions(tem, { scope: 'organization', entity: organization }));
        const writes = optionWrites('organization', ORGANIZATION_OPTION_FIELDS, input, errors, new Map([[TRUSTED_RELAYS_OPTION, 'trustedRelays']]), features);
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
        if (avatar) await applyAvatar(tem, organization, avatar, changes);
        if (trustedRelays) {
          const change = await applyTrustedRelays(tem, organization, trustedRelays);
          if (change !== null) changes.trustedRelays = change;
        }
        Object.assign(changes, await applyOptionWrites(tem, { scope: 'organization', entity: organization }, writes));
        if (Object.keys(changes).length > 0) {
          recordAudit(tem, { organization, event: 'org.edit', actor, targetObject: organization.id, data: changes });
        }
        return organization;
      }),
    'The slug is already in use.',
  );
  if (organization.requireEmailVerification && input.requireEmailVerification === true) {
    // After the commit, so the job sees the setting; idempotent, so a retried save may schedule it again.
    await scheduleRemoveUnverifiedMembers(deps.emailVerification, organization.id);
  }
  return organization;
}

export interface DeleteOrganization {
  actor: AuditActor;
  /** Finds and locks the organization. */
  target: Locate<Organization>;
}

/**
 * Schedules an organization's deletion: it becomes `pending_deletion` and every key of its
 * projects is out of use as soon as this commits (ADMIN_API.md, "Deletion"). Deleting one that
 * is already pending changes nothing.
 */
export async function deleteOrganization(em: EntityManager, { actor, target }: DeleteOrganization): Promise<Organization> {
  return em.transactional(async (tem) => {
    const organization = await target(tem);
    if (organization.status === 'active') {
      organization.status = 'pending_deletion';
      const keys = await tem.find(ProjectKey, { project: { organization } }, { fields: ['publicKey'] });
      await disableKeysOnCommit(tem, { scope: 'organization', organizationId: organization.id, trigger: 'organization.delete' }, keys.map((k) => k.publicKey));
      recordAudit(tem, { organization, event: 'org.remove', actor, targetObject: organization.id, data: { slug: organization.slug, name: organization.name } });
    }
    return organization;
  });
}

/** Who the audit log names for the removals the clean-up job makes (no user acted). */
export const EMAIL_VERIFICATION_ACTOR = 'email-verification';

export interface RemovedMember {
  memberId: number;
  userId: number;
  email: string;
}

/**
 * Removes the members of an organization whose e-mail address is not verified, one `member.remove`
 * audit entry each, in one transaction. Does nothing when the organization no longer requires
 * verification (the setting may have been turned off again before the job ran); running it twice
 * removes nothing more, so BullMQ's at-least-once delivery is harmless.
 */
export async function removeUnverifiedMembers(em: EntityManager, organizationId: number): Promise<RemovedMember[]> {
  return em.transactional(async (tem) => {
    const organization = await tem.findOne(Organization, { id: organizationId, status: 'active', requireEmailVerification: true });
    if (!organization) return [];
    const members = await tem.find(OrganizationMember, { organization, user: { emailVerified: false } }, { populate: ['user'], orderBy: { id: 'asc' } });
    return members.map((member) => {
      const user = member.user as User;
      recordAudit(tem, {
        organization,
        event: 'member.remove',
        actor: { user: null, label: EMAIL_VERIFICATION_ACTOR },
        targetObject: member.id,
        data: { email: user.email, userId: user.id, role: member.role, reason: 'email not verified' },
      });
      tem.remove(member);
      return { memberId: member.id, userId: user.id, email: user.email };
    });
  });
}
