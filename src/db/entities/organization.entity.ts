import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const ORGANIZATION_STATUSES = ['active', 'pending_deletion'] as const;
export type OrganizationStatus = (typeof ORGANIZATION_STATUSES)[number];

export const Organization = defineEntity({
  name: 'Organization',
  tableName: 'organization',
  properties: {
    id: p.integer().primary().autoincrement(),
    slug: p.string().length(50).unique(),
    name: p.string().length(64),
    status: p.enum([...ORGANIZATION_STATUSES]).default('active'),
    requireEmailVerification: p.boolean().default(false),
    avatarType: p.enum(['letter_avatar', 'upload']).default('letter_avatar'),
    /** Set while an uploaded avatar is in use; names the `OrganizationAvatar` row. */
    avatarUuid: p.uuid().nullable(),
    dateCreated: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type Organization = InferEntity<typeof Organization>;

export const OrganizationOption = defineEntity({
  name: 'OrganizationOption',
  tableName: 'organization_option',
  uniques: [{ properties: ['organization', 'key'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    key: p.string().length(64),
    value: p.json<unknown>(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type OrganizationOption = InferEntity<typeof OrganizationOption>;

/** An uploaded avatar image, in its own table so organization reads never carry the bytes. */
export const OrganizationAvatar = defineEntity({
  name: 'OrganizationAvatar',
  tableName: 'organization_avatar',
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade').index(),
    uuid: p.uuid().unique(),
    contentType: p.string().length(32),
    file: p.blob(),
    dateCreated: p.datetime().onCreate(() => new Date()),
  },
});
export type OrganizationAvatar = InferEntity<typeof OrganizationAvatar>;
