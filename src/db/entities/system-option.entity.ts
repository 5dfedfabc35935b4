import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/**
 * Server-wide values the service keeps for itself (Sentry's `sentry_option`), e.g. the generated
 * `system.secret-key`; one row per key, the same for every replica.
 */
export const SystemOption = defineEntity({
  name: 'SystemOption',
  tableName: 'system_option',
  properties: {
    key: p.string().length(64).primary(),
    value: p.json<unknown>(),
    dateCreated: p.datetime().onCreate(() => new Date()),
  },
});
export type SystemOption = InferEntity<typeof SystemOption>;
