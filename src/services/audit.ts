import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditLogEntry, type Organization, type User } from '../db/entities';

/**
 * The organization audit log: one entry per change a user (or a background job) made, with
 * Sentry's event names so entries read the same as in Sentry. Services and job processors write
 * it in the unit of work of the change it describes; the HTTP layer only says who acted.
 */

export const AUDIT_EVENTS = [
  'org.add',
  'org.edit',
  'org.remove',
  'member.add',
  'member.remove',
  'team.add',
  'project.add',
  'project.edit',
  'project.remove',
  'projectkey.add',
  'projectkey.edit',
  'projectkey.remove',
  'projecttemplate.add',
  'projecttemplate.edit',
  'projecttemplate.remove',
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export interface AuditActor {
  /** The user who acted, or null for the system. */
  user: User | null;
  /** Set for changes made by the system (a background job). */
  label?: string;
  ipAddress?: string | null;
}

export interface AuditRecord {
  organization: Organization;
  event: AuditEvent;
  actor: AuditActor;
  targetObject?: number | null;
  data: Record<string, unknown>;
}

/** Adds an entry to the caller's unit of work (written with the change it describes). */
export function recordAudit(em: EntityManager, record: AuditRecord): AuditLogEntry {
  return em.create(AuditLogEntry, {
    organization: record.organization,
    event: record.event,
    actor: record.actor.user,
    actorLabel: record.actor.label ?? null,
    ipAddress: record.actor.ipAddress ?? null,
    targetObject: record.targetObject ?? null,
    data: record.data,
  });
}

/** A value as an audit entry shows it: text as is, everything else as JSON. */
export function auditValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}

/** Sentry's change wording: `to X` when the setting was never stored, else `from X to Y`. */
export function describeChange(before: unknown, after: unknown, existed: boolean): string {
  return existed ? `from ${auditValue(before)} to ${auditValue(after)}` : `to ${auditValue(after)}`;
}
