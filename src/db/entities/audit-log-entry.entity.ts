import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Organization } from './organization.entity';
import { User } from './user.entity';

export const AuditLogEntry = defineEntity({
  name: 'AuditLogEntry',
  tableName: 'audit_log_entry',
  indexes: [{ properties: ['organization', 'dateCreated'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    actor: () => p.manyToOne(User).nullable().deleteRule('set null'),
    /** Set when the change was made by the system (a background job), not a user. */
    actorLabel: p.string().length(64).nullable(),
    event: p.string().length(64),
    targetObject: p.integer().nullable(),
    ipAddress: p.string().length(64).nullable(),
    data: p.json<Record<string, unknown>>(),
    dateCreated: p.datetime().onCreate(() => new Date()),
  },
});
export type AuditLogEntry = InferEntity<typeof AuditLogEntry>;
