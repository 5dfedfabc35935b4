/**
 * The migrations in order, by name — a module that imports nothing, so a process can see that
 * its database is up to date without loading the Migrator (`applyMigrations`). `index.ts` maps
 * each name to its class (the compiler checks that both lists agree). Append new names at the end.
 */
export const MIGRATION_NAMES = [
  'Migration20261125000000Initial',
  'Migration20261201000000SystemOption',
  'Migration20261201100000Outbox',
  'Migration20261201200000FeatureOverrides',
  'Migration20261201300000TrustedRelayKeys',
] as const;

export type MigrationName = (typeof MIGRATION_NAMES)[number];
