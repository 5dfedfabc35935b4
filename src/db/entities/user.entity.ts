import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Organization } from './organization.entity';

export const User = defineEntity({
  name: 'User',
  tableName: 'auth_user',
  properties: {
    id: p.integer().primary().autoincrement(),
    email: p.string().length(200).unique(),
    name: p.string().length(200).default(''),
    isSuperuser: p.boolean().default(false),
    isActive: p.boolean().default(true),
    emailVerified: p.boolean().default(false),
    dateJoined: p.datetime().onCreate(() => new Date()),
  },
});
export type User = InferEntity<typeof User>;

export const UserPermission = defineEntity({
  name: 'UserPermission',
  tableName: 'user_permission',
  uniques: [{ properties: ['user', 'permission'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    user: () => p.manyToOne(User).deleteRule('cascade'),
    permission: p.string().length(255),
  },
});
export type UserPermission = InferEntity<typeof UserPermission>;

/** A user's API token. Only the SHA-256 of the token is stored; the token is shown once. */
export const ApiToken = defineEntity({
  name: 'ApiToken',
  tableName: 'api_token',
  properties: {
    id: p.integer().primary().autoincrement(),
    user: () => p.manyToOne(User).deleteRule('cascade').index(),
    hashedToken: p.character().length(64).unique(),
    tokenLastCharacters: p.string().length(4),
    scopes: p.json<string[]>(),
    dateCreated: p.datetime().onCreate(() => new Date()),
  },
});
export type ApiToken = InferEntity<typeof ApiToken>;

export const MEMBER_ROLES = ['owner', 'manager', 'admin', 'member'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

export const OrganizationMember = defineEntity({
  name: 'OrganizationMember',
  tableName: 'organization_member',
  uniques: [{ properties: ['organization', 'user'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    user: () => p.manyToOne(User).deleteRule('cascade').index(),
    role: p.enum([...MEMBER_ROLES]).default('member'),
    dateAdded: p.datetime().onCreate(() => new Date()),
  },
});
export type OrganizationMember = InferEntity<typeof OrganizationMember>;
