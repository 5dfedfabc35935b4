import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Organization } from './organization.entity';

export const ProjectTemplate = defineEntity({
  name: 'ProjectTemplate',
  tableName: 'project_template',
  uniques: [{ properties: ['organization', 'name'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    name: p.string().length(200),
    dateCreated: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type ProjectTemplate = InferEntity<typeof ProjectTemplate>;

export const ProjectTemplateOption = defineEntity({
  name: 'ProjectTemplateOption',
  tableName: 'project_template_option',
  uniques: [{ properties: ['template', 'key'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    template: () => p.manyToOne(ProjectTemplate).deleteRule('cascade'),
    key: p.string().length(64),
    value: p.json<unknown>(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type ProjectTemplateOption = InferEntity<typeof ProjectTemplateOption>;
