import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261125000000Initial } from './Migration20261125000000Initial';
import { Migration20261201000000SystemOption } from './Migration20261201000000SystemOption';
import { Migration20261201100000Outbox } from './Migration20261201100000Outbox';
import { Migration20261201200000FeatureOverrides } from './Migration20261201200000FeatureOverrides';
import { Migration20261201300000TrustedRelayKeys } from './Migration20261201300000TrustedRelayKeys';
import { MIGRATION_NAMES, type MigrationName } from './names';

/** Every name in `names.ts` with its class (a name without a class, or a class without a name, does not compile). */
const classes: Record<MigrationName, MigrationObject['class']> = {
  Migration20261125000000Initial,
  Migration20261201000000SystemOption,
  Migration20261201100000Outbox,
  Migration20261201200000FeatureOverrides,
  Migration20261201300000TrustedRelayKeys,
};

/** Listed explicitly so compiled builds need no globbing; the order is `names.ts`'s. */
export const migrationsList: MigrationObject[] = MIGRATION_NAMES.map((name) => ({ name, class: classes[name] }));
