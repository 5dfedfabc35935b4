import { Migration } from '@mikro-orm/migrations';

/** Server-wide values such as the generated registration-token secret. */
export class Migration20261201000000SystemOption extends Migration {
  override up(): void {
    this.addSql('create table "system_option" ("key" varchar(64) not null, "value" jsonb not null, "date_created" timestamptz not null, constraint "system_option_pkey" primary key ("key"))');
    // The prune job looks relays up by age.
    this.addSql('create index "relay_last_seen_index" on "relay" ("last_seen")');
    this.addSql('create index "relay_usage_last_seen_index" on "relay_usage" ("last_seen")');
  }

  override down(): void {
    this.addSql('drop index if exists "relay_usage_last_seen_index"');
    this.addSql('drop index if exists "relay_last_seen_index"');
    this.addSql('drop table if exists "system_option" cascade');
  }
}
