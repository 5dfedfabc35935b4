import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Organization } from './organization.entity';
import { ProjectTemplate } from './project-template.entity';
import { Team } from './team.entity';

export const PROJECT_STATUSES = ['active', 'pending_deletion'] as const;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];

export const Project = defineEntity({
  name: 'Project',
  tableName: 'project',
  uniques: [{ properties: ['organization', 'slug'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    team: () => p.manyToOne(Team).nullable().deleteRule('set null'),
    template: () => p.manyToOne(ProjectTemplate).nullable().deleteRule('set null').index(),
    slug: p.string().length(50),
    name: p.string().length(200),
    platform: p.string().length(64).nullable(),
    status: p.enum([...PROJECT_STATUSES]).default('active'),
    dateCreated: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type Project = InferEntity<typeof Project>;

export const ProjectOption = defineEntity({
  name: 'ProjectOption',
  tableName: 'project_option',
  uniques: [{ properties: ['project', 'key'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    project: () => p.manyToOne(Project).deleteRule('cascade'),
    key: p.string().length(64),
    value: p.json<unknown>(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type ProjectOption = InferEntity<typeof ProjectOption>;
