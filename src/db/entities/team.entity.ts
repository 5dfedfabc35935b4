import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Organization } from './organization.entity';

export const Team = defineEntity({
  name: 'Team',
  tableName: 'team',
  uniques: [{ properties: ['organization', 'slug'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    slug: p.string().length(50),
    name: p.string().length(64),
    dateCreated: p.datetime().onCreate(() => new Date()),
  },
});
export type Team = InferEntity<typeof Team>;
