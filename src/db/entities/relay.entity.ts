import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** A registered Relay. Whether it is internal is decided per request, never stored. */
export const Relay = defineEntity({
  name: 'Relay',
  tableName: 'relay',
  indexes: [{ properties: ['lastSeen'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    relayId: p.uuid().unique(),
    publicKey: p.string().length(64),
    firstSeen: p.datetime().onCreate(() => new Date()),
    lastSeen: p.datetime().onCreate(() => new Date()),
  },
});
export type Relay = InferEntity<typeof Relay>;

export const RelayUsage = defineEntity({
  name: 'RelayUsage',
  tableName: 'relay_usage',
  uniques: [{ properties: ['relayId', 'version'] }],
  indexes: [{ properties: ['lastSeen'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    relayId: p.uuid(),
    version: p.string().length(32),
    publicKey: p.string().length(64).nullable(),
    firstSeen: p.datetime().onCreate(() => new Date()),
    lastSeen: p.datetime().onCreate(() => new Date()),
  },
});
export type RelayUsage = InferEntity<typeof RelayUsage>;

/** A relay key the operator trusts as internal (`relays trust`), beside `RELAY_WHITELIST_PK`. */
export const TrustedRelayKey = defineEntity({
  name: 'TrustedRelayKey',
  tableName: 'trusted_relay_key',
  properties: {
    publicKey: p.string().length(64).primary(),
    name: p.string().length(200).default(''),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type TrustedRelayKey = InferEntity<typeof TrustedRelayKey>;
