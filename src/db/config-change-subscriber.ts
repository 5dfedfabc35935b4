/* eslint-disable @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment -- MikroORM's change sets hold untyped entity payloads of several classes. */
import {
  ChangeSetType,
  wrap,
  type ChangeSet,
  type EventSubscriber,
  type FlushEventArgs,
  type TransactionEventArgs,
} from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { InvalidationScope } from '../caches/config-generations';
import type { ConfigChange } from '../queues/invalidate.queue';
import { CONFIG_INPUTS } from '../relay-config/sections';
import { insertOutboxRows, takeWrittenIds, writeOutbox } from './outbox';

/**
 * Turns changes to organizations, projects, templates, keys and their options into outbox rows
 * (src/db/outbox.ts) for exactly the configs they affect, written in the transaction that makes
 * the change — so a rollback (of the transaction or of a savepoint) leaves no row and a commit
 * always leaves one, whatever happens to Redis or to this process afterwards. The event order
 * (LIBRARIES.md, checked with MikroORM 6.6.16): inside an explicit transaction `afterFlush` runs
 * in it; a plain `em.flush()` opens its own transaction, and `beforeTransactionCommit` (with the
 * unit of work) runs in that one, before `afterTransactionCommit` and `afterFlush`. After the root
 * transaction commits, the rows are published at once (the fast path); the drainers in the
 * worker processes publish whatever that could not.
 */

/** A change as seen in a flush; organization ids of projects/templates may still be unknown. */
interface PendingChange {
  scope: InvalidationScope['scope'];
  organizationId: number | null;
  projectId?: number;
  templateId?: number;
  publicKey?: string;
  trigger: string;
  disabledKeys?: string[];
}

/**
 * The columns whose change matters, derived from the config sections' declarations; plus the
 * references that decide which organization, template or project a row's options come from.
 */
const PROJECT_CONFIG_FIELDS: readonly string[] = [...CONFIG_INPUTS.projectColumns, 'template', 'organization'];
const ORGANIZATION_CONFIG_FIELDS: readonly string[] = CONFIG_INPUTS.organizationColumns;
const KEY_CONFIG_FIELDS: readonly string[] = [...CONFIG_INPUTS.keyColumns, 'project'];

const ACTION: Record<ChangeSetType, string> = {
  [ChangeSetType.CREATE]: 'create',
  [ChangeSetType.UPDATE]: 'update',
  [ChangeSetType.DELETE]: 'delete',
  [ChangeSetType.UPDATE_EARLY]: 'update',
  [ChangeSetType.DELETE_EARLY]: 'delete',
};

// Change sets of several entity classes, read field by field (the switch on the class name narrows them).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyEntity = Record<string, any>;

const idOf = (ref: unknown): number | null => (ref && typeof ref === 'object' && 'id' in ref ? ((ref as { id: number }).id ?? null) : null);

/** The organization id of a loaded project or template reference, when the reference is initialized. */
function organizationOf(ref: unknown): number | null {
  if (!ref || typeof ref !== 'object' || !wrap(ref).isInitialized()) return null;
  return idOf((ref as { organization?: unknown }).organization);
}

function touches(changeSet: ChangeSet<AnyEntity>, fields: readonly string[]): boolean {
  if (changeSet.type !== ChangeSetType.UPDATE && changeSet.type !== ChangeSetType.UPDATE_EARLY) return true;
  return fields.some((f) => Object.hasOwn(changeSet.payload ?? {}, f));
}

/**
 * The config changes one flush made. Rows created in the same flush have no cached configs yet,
 * so changes under a new organization, project or template are dropped (a seed of thousands of
 * keys schedules nothing).
 */
export function changesOf(changeSets: ChangeSet<AnyEntity>[]): PendingChange[] {
  const created = { Organization: new Set<number>(), Project: new Set<number>(), ProjectTemplate: new Set<number>() };
  for (const cs of changeSets) {
    if (cs.type === ChangeSetType.CREATE && cs.name in created) created[cs.name as keyof typeof created].add(cs.entity.id);
  }
  const isNew = (c: PendingChange) =>
    (c.scope === 'organization' && c.organizationId !== null && created.Organization.has(c.organizationId)) ||
    (c.projectId !== undefined && created.Project.has(c.projectId)) ||
    (c.templateId !== undefined && created.ProjectTemplate.has(c.templateId));
  const changes: PendingChange[] = [];
  for (const cs of changeSets) {
    const entity = cs.entity;
    const action = ACTION[cs.type];
    switch (cs.name) {
      case 'Organization':
        if (cs.type !== ChangeSetType.CREATE && touches(cs, ORGANIZATION_CONFIG_FIELDS)) {
          changes.push({ scope: 'organization', organizationId: entity.id, trigger: `organization.${action}` });
        }
        break;
      case 'OrganizationOption':
        if (!CONFIG_INPUTS.organizationOptions.has(entity.key)) break;
        changes.push({ scope: 'organization', organizationId: idOf(entity.organization), trigger: `organization-option.${action}:${entity.key}` });
        break;
      case 'Project':
        if (cs.type !== ChangeSetType.CREATE && touches(cs, PROJECT_CONFIG_FIELDS)) {
          changes.push({ scope: 'project', organizationId: idOf(entity.organization), projectId: entity.id, trigger: `project.${action}` });
        }
        break;
      case 'ProjectOption':
        if (!CONFIG_INPUTS.projectOptions.has(entity.key)) break;
        changes.push({
          scope: 'project',
          organizationId: organizationOf(entity.project),
          projectId: idOf(entity.project)!,
          trigger: `project-option.${action}:${entity.key}`,
        });
        break;
      case 'ProjectTemplateOption':
        if (!CONFIG_INPUTS.projectOptions.has(entity.key)) break;
        changes.push({
          scope: 'template',
          organizationId: organizationOf(entity.template),
          templateId: idOf(entity.template)!,
          trigger: `project-template-option.${action}:${entity.key}`,
        });
        break;
      case 'ProjectKey':
        if (touches(cs, KEY_CONFIG_FIELDS)) {
          const deleted = cs.type === ChangeSetType.DELETE || cs.type === ChangeSetType.DELETE_EARLY;
          changes.push({
            scope: 'key',
            organizationId: organizationOf(entity.project),
            projectId: idOf(entity.project)!,
            publicKey: entity.publicKey,
            trigger: `project-key.${action}`,
            ...(deleted ? { disabledKeys: [entity.publicKey] } : {}),
          });
        }
        break;
      default:
        break;
    }
  }
  return changes.filter((c) => !isNew(c));
}

type Sql = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** Organization ids by project or template id, read in the transaction of the change. */
async function organizationsOf(sql: Sql, table: 'project' | 'project_template', ids: number[]): Promise<Map<number, number>> {
  const found = new Map<number, number>();
  if (ids.length === 0) return found;
  for (const row of await sql(`select "id", "organization_id" from "${table}" where "id" in (${placeholders(ids.length)})`, ids)) found.set(Number(row.id), Number(row.organization_id));
  return found;
}

/** Fills in the organization ids a flush could not see (unloaded project/template references). */
async function resolveScopes(sql: Sql, pending: PendingChange[]): Promise<ConfigChange[]> {
  const projectIds = [...new Set(pending.filter((c) => c.organizationId === null && c.projectId !== undefined).map((c) => c.projectId!))];
  const templateIds = [...new Set(pending.filter((c) => c.organizationId === null && c.templateId !== undefined).map((c) => c.templateId!))];
  const orgOfProject = await organizationsOf(sql, 'project', projectIds);
  const orgOfTemplate = await organizationsOf(sql, 'project_template', templateIds);
  const resolved: ConfigChange[] = [];
  for (const c of pending) {
    const organizationId = c.organizationId ?? (c.projectId !== undefined ? orgOfProject.get(c.projectId) : undefined) ?? (c.templateId !== undefined ? orgOfTemplate.get(c.templateId) : undefined);
    if (organizationId === undefined) {
      // The project went in the same transaction; a deleted key must still be taken out of use
      // (its own stamp and disabled config are what matter; 0 names no organization).
      for (const publicKey of c.disabledKeys ?? []) {
        resolved.push({ scope: { scope: 'key', organizationId: 0, projectId: c.projectId ?? 0, publicKey }, trigger: c.trigger, disabledKeys: [publicKey] });
      }
      continue;
    }
    let scope: InvalidationScope;
    if (c.scope === 'organization') scope = { scope: 'organization', organizationId };
    else if (c.scope === 'project') scope = { scope: 'project', organizationId, projectId: c.projectId! };
    else if (c.scope === 'template') scope = { scope: 'template', organizationId, templateId: c.templateId! };
    else scope = { scope: 'key', organizationId, projectId: c.projectId!, publicKey: c.publicKey! };
    resolved.push({ scope, trigger: c.trigger, ...(c.disabledKeys ? { disabledKeys: c.disabledKeys } : {}) });
  }
  return resolved;
}

/** Writes the outbox rows of one flush's changes on `ctx`. */
async function writeChanges(em: EntityManager, ctx: object, changes: PendingChange[]): Promise<void> {
  const sql: Sql = (text, params) => em.getConnection('write').execute(text, params, 'all', ctx);
  const resolved = await resolveScopes(sql, changes);
  await insertOutboxRows(em, ctx, resolved.map((change) => ({ kind: 'invalidation' as const, change })));
}

/**
 * Inside a transaction that soft-deletes a project or organization: take these keys out of use
 * when it commits (their cached configs become `{"disabled":true}` at once).
 */
export async function disableKeysOnCommit(
  em: EntityManager,
  deleted: { scope: 'organization'; organizationId: number; trigger: string } | { scope: 'project'; organizationId: number; projectId: number; trigger: string },
  publicKeys: string[],
): Promise<void> {
  const scope: InvalidationScope = deleted.scope === 'organization' ? { scope: 'organization', organizationId: deleted.organizationId } : { scope: 'project', organizationId: deleted.organizationId, projectId: deleted.projectId };
  await writeOutbox(em, [{ kind: 'invalidation', change: { scope, trigger: deleted.trigger, disabledKeys: publicKeys } }]);
}

export class ConfigChangeSubscriber implements EventSubscriber {
  constructor(
    /** The fast path: publishes the rows a root transaction wrote, right after it committed; never throws. */
    private readonly afterCommit: (ids: string[]) => Promise<void>,
  ) {}

  /** A flush inside an explicit transaction (or savepoint): the rows share its fate. */
  async afterFlush(args: FlushEventArgs): Promise<void> {
    const ctx = args.em.getTransactionContext<object>();
    if (!ctx || !args.em.isInTransaction()) return;
    const changes = changesOf(args.uow.getChangeSets() as ChangeSet<AnyEntity>[]);
    if (changes.length > 0) await writeChanges(args.em as EntityManager, ctx, changes);
  }

  /** A plain flush's own transaction (the one event with its unit of work). */
  async beforeTransactionCommit(args: TransactionEventArgs): Promise<void> {
    const transaction = args.transaction as object | undefined;
    if (!args.uow || !transaction) return;
    const changes = changesOf(args.uow.getChangeSets() as ChangeSet<AnyEntity>[]);
    if (changes.length > 0) await writeChanges(args.em as EntityManager, transaction, changes);
  }

  async afterTransactionCommit(args: TransactionEventArgs): Promise<void> {
    const transaction = args.transaction as object | undefined;
    if (!transaction) return;
    const ids = takeWrittenIds(transaction);
    if (ids.length > 0) await this.afterCommit(ids);
  }

  afterTransactionRollback(args: TransactionEventArgs): void {
    const transaction = args.transaction as object | undefined;
    if (transaction) takeWrittenIds(transaction);
  }
}
