import {
  ChangeSetType,
  wrap,
  type ChangeSet,
  type EventSubscriber,
  type FlushEventArgs,
  type Transaction,
  type TransactionEventArgs,
} from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { InvalidationScope } from '../caches/config-generations';
import type { ConfigChange } from '../queues/invalidate.queue';
import { CONFIG_INPUTS } from '../relay-config/sections';
import { Project, ProjectTemplate } from './entities';

/**
 * Turns committed changes to organizations, projects, templates, keys and their options into
 * invalidations of exactly the configs they affect — only after the transaction commits, never
 * on rollback (LIBRARIES.md: on a plain flush `afterTransactionCommit` fires *before*
 * `afterFlush`, so changes are collected in `afterFlush` and published there when no explicit
 * transaction is open, else kept until the root transaction commits).
 *
 * A change inside a savepoint that is rolled back while the outer transaction commits still
 * schedules its invalidation: extra work, never a stale config.
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

type AnyEntity = Record<string, any>;

const idOf = (ref: unknown): number | null => (ref && typeof ref === 'object' && 'id' in ref ? ((ref as { id: number }).id ?? null) : null);

/** The organization id of a loaded project or template reference, when the reference is initialized. */
function organizationOf(ref: unknown): number | null {
  if (!ref || typeof ref !== 'object' || !wrap(ref as object).isInitialized()) return null;
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

/** Fills in the organization ids a flush could not see (unloaded project/template references). */
async function resolveScopes(em: EntityManager, pending: PendingChange[]): Promise<ConfigChange[]> {
  const projectIds = [...new Set(pending.filter((c) => c.organizationId === null && c.projectId !== undefined).map((c) => c.projectId!))];
  const templateIds = [...new Set(pending.filter((c) => c.organizationId === null && c.templateId !== undefined).map((c) => c.templateId!))];
  const orgOfProject = new Map<number, number>();
  const orgOfTemplate = new Map<number, number>();
  if (projectIds.length > 0) {
    for (const p of await em.find(Project, { id: { $in: projectIds } }, { fields: ['organization'], disableIdentityMap: true })) orgOfProject.set(p.id, idOf(p.organization)!);
  }
  if (templateIds.length > 0) {
    for (const t of await em.find(ProjectTemplate, { id: { $in: templateIds } }, { fields: ['organization'], disableIdentityMap: true })) orgOfTemplate.set(t.id, idOf(t.organization)!);
  }
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

/** Keys a deletion takes out of use, registered inside the transaction that deletes them. */
const extraDisabledKeys = new WeakMap<object, PendingChange[]>();

/** The root transaction of a (possibly nested) MikroORM transaction context. */
function rootTransaction(ctx: Transaction): Transaction {
  let current: any = ctx;
  for (;;) {
    const parentSymbol = Object.getOwnPropertySymbols(current).find((s) => s.description === 'parentTransaction');
    if (!parentSymbol) return current;
    current = current[parentSymbol];
  }
}

/**
 * Inside a transaction that soft-deletes a project or organization: take these keys out of use
 * when it commits (their cached configs become `{"disabled":true}` at once).
 */
export function disableKeysOnCommit(em: EntityManager, scope: PendingChange, publicKeys: string[]): void {
  const ctx = em.getTransactionContext();
  if (!ctx) throw new Error('disableKeysOnCommit needs an explicit transaction (em.transactional)');
  const root = rootTransaction(ctx);
  const list = extraDisabledKeys.get(root) ?? [];
  list.push({ ...scope, disabledKeys: publicKeys });
  extraDisabledKeys.set(root, list);
}

export class ConfigChangeSubscriber implements EventSubscriber {
  private readonly pending = new WeakMap<object, PendingChange[]>();

  constructor(
    private readonly publish: (changes: ConfigChange[]) => Promise<unknown>,
    /** A fresh EntityManager outside any transaction, to look up missing organization ids. */
    private readonly freshEm: () => EntityManager,
    private readonly logger: Logger,
  ) {}

  async afterFlush(args: FlushEventArgs): Promise<void> {
    const changes = changesOf(args.uow.getChangeSets() as ChangeSet<AnyEntity>[]);
    if (changes.length === 0) return;
    const ctx = args.em.getTransactionContext();
    if (ctx && args.em.isInTransaction()) {
      const root = rootTransaction(ctx);
      this.pending.set(root, [...(this.pending.get(root) ?? []), ...changes]);
      return;
    }
    await this.send(changes);
  }

  async afterTransactionCommit(args: TransactionEventArgs): Promise<void> {
    if (!args.transaction) return;
    const changes = [...(this.pending.get(args.transaction) ?? []), ...(extraDisabledKeys.get(args.transaction) ?? [])];
    this.pending.delete(args.transaction);
    extraDisabledKeys.delete(args.transaction);
    if (changes.length > 0) await this.send(changes);
  }

  afterTransactionRollback(args: TransactionEventArgs): void {
    if (!args.transaction) return;
    this.pending.delete(args.transaction);
    extraDisabledKeys.delete(args.transaction);
  }

  /** Never throws: the change is committed either way; a failed schedule is logged. */
  private async send(changes: PendingChange[]): Promise<void> {
    try {
      const resolved = await resolveScopes(this.freshEm(), changes);
      await this.publish(resolved);
    } catch (error) {
      this.logger.error({ err: (error as Error).message, changes: changes.length }, 'could not schedule config invalidations after commit');
    }
  }
}
