import { Migration } from '@mikro-orm/migrations';

/**
 * The transactional outbox (DESIGN.md, "Every committed change reaches the Relays"): what a
 * committed transaction still has to publish to Redis. A row is written in the transaction that
 * made the change and deleted once a drainer has published it.
 */
export class Migration20261201100000Outbox extends Migration {
  override up(): void {
    this.addSql(
      `create table "config_outbox" (
        "id" bigserial primary key,
        "kind" text check ("kind" in ('invalidation', 'relay-key')) not null,
        "payload" jsonb not null,
        "relay_id" uuid null,
        "token" uuid not null default gen_random_uuid(),
        "created_at" timestamptz not null default clock_timestamp(),
        "lease_until" timestamptz null,
        "lease_token" uuid null,
        "attempts" int not null default 0
      )`,
    );
    // A relay's changes are published one at a time in commit order; drainers look for older rows of the same relay.
    this.addSql('create index "config_outbox_relay_id_index" on "config_outbox" ("relay_id", "id") where "relay_id" is not null');
  }

  override down(): void {
    this.addSql('drop table if exists "config_outbox"');
  }
}
