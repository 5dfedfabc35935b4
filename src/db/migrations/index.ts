import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261125000000Initial } from './Migration20261125000000Initial';
import { Migration20261201000000SystemOption } from './Migration20261201000000SystemOption';
import { Migration20261201100000Outbox } from './Migration20261201100000Outbox';
import { Migration20261201200000FeatureOverrides } from './Migration20261201200000FeatureOverrides';
import { Migration20261201300000TrustedRelayKeys } from './Migration20261201300000TrustedRelayKeys';

/** Listed explicitly so compiled builds need no globbing. Append new migrations at the end. */
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261125000000Initial', class: Migration20261125000000Initial },
  { name: 'Migration20261201000000SystemOption', class: Migration20261201000000SystemOption },
  { name: 'Migration20261201100000Outbox', class: Migration20261201100000Outbox },
  { name: 'Migration20261201200000FeatureOverrides', class: Migration20261201200000FeatureOverrides },
  { name: 'Migration20261201300000TrustedRelayKeys', class: Migration20261201300000TrustedRelayKeys },
];
