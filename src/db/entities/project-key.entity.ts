import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Project } from './project.entity';

export const PROJECT_KEY_STATUSES = ['active', 'inactive'] as const;
export type ProjectKeyStatus = (typeof PROJECT_KEY_STATUSES)[number];

/** A DSN key. `id` is the `numericId` Relay sees; `publicKey` is what Relay asks configs for. */
export const ProjectKey = defineEntity({
  name: 'ProjectKey',
  tableName: 'project_key',
  properties: {
    id: p.integer().primary().autoincrement(),
    project: () => p.manyToOne(Project).deleteRule('cascade').index(),
    publicKey: p.character().length(32).unique(),
    secretKey: p.character().length(32).unique(),
    status: p.enum([...PROJECT_KEY_STATUSES]).default('active'),
    label: p.string().length(64).nullable(),
    rateLimitCount: p.integer().nullable(),
    rateLimitWindow: p.integer().nullable(),
    data: p.json<Record<string, unknown>>().default('{}'),
    dateAdded: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type ProjectKey = InferEntity<typeof ProjectKey>;
