import { Migration } from '@mikro-orm/migrations';

/**
 * The operator-managed list of internal relay keys (`relays trust` / `relays untrust`), beside
 * `RELAY_WHITELIST_PK`; published to Redis through the outbox (kind `trusted-relay-key`).
 */
export class Migration20261201300000TrustedRelayKeys extends Migration {
  override up(): void {
    this.addSql(
      `create table "trusted_relay_key" (
        "public_key" varchar(64) primary key,
        "name" varchar(200) not null default '',
        "created_at" timestamptz not null default now()
      )`,
    );
    this.addSql('alter table "config_outbox" drop constraint if exists "config_outbox_kind_check"');
    this.addSql(`alter table "config_outbox" add constraint "config_outbox_kind_check" check ("kind" in ('invalidation', 'relay-key', 'trusted-relay-key'))`);
  }

  override down(): void {
    this.addSql(`delete from "config_outbox" where "kind" = 'trusted-relay-key'`);
    this.addSql('alter table "config_outbox" drop constraint if exists "config_outbox_kind_check"');
    this.addSql(`alter table "config_outbox" add constraint "config_outbox_kind_check" check ("kind" in ('invalidation', 'relay-key'))`);
    this.addSql('drop table if exists "trusted_relay_key"');
  }
}
