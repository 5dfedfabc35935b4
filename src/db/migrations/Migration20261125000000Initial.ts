import { Migration } from '@mikro-orm/migrations';

/** The initial schema. */
export class Migration20261125000000Initial extends Migration {
  override up(): void {
    this.addSql("create table \"organization\" (\"id\" serial primary key, \"slug\" varchar(50) not null, \"name\" varchar(64) not null, \"status\" text check (\"status\" in ('active', 'pending_deletion')) not null default 'active', \"require_email_verification\" boolean not null default false, \"avatar_type\" text check (\"avatar_type\" in ('letter_avatar', 'upload')) not null default 'letter_avatar', \"avatar_uuid\" uuid null, \"date_created\" timestamptz not null, \"updated_at\" timestamptz not null)");
    this.addSql("alter table \"organization\" add constraint \"organization_slug_unique\" unique (\"slug\")");
    this.addSql("create table \"organization_avatar\" (\"id\" serial primary key, \"organization_id\" int not null, \"uuid\" uuid not null, \"content_type\" varchar(32) not null, \"file\" bytea not null, \"date_created\" timestamptz not null)");
    this.addSql("create index \"organization_avatar_organization_id_index\" on \"organization_avatar\" (\"organization_id\")");
    this.addSql("alter table \"organization_avatar\" add constraint \"organization_avatar_uuid_unique\" unique (\"uuid\")");
    this.addSql("create table \"organization_option\" (\"id\" serial primary key, \"organization_id\" int not null, \"key\" varchar(64) not null, \"value\" jsonb not null, \"updated_at\" timestamptz not null)");
    this.addSql("alter table \"organization_option\" add constraint \"organization_option_organization_id_key_unique\" unique (\"organization_id\", \"key\")");
    this.addSql("create table \"project_template\" (\"id\" serial primary key, \"organization_id\" int not null, \"name\" varchar(200) not null, \"date_created\" timestamptz not null, \"updated_at\" timestamptz not null)");
    this.addSql("alter table \"project_template\" add constraint \"project_template_organization_id_name_unique\" unique (\"organization_id\", \"name\")");
    this.addSql("create table \"project_template_option\" (\"id\" serial primary key, \"template_id\" int not null, \"key\" varchar(64) not null, \"value\" jsonb not null, \"updated_at\" timestamptz not null)");
    this.addSql("alter table \"project_template_option\" add constraint \"project_template_option_template_id_key_unique\" unique (\"template_id\", \"key\")");
    this.addSql("create table \"relay\" (\"id\" serial primary key, \"relay_id\" uuid not null, \"public_key\" varchar(64) not null, \"first_seen\" timestamptz not null, \"last_seen\" timestamptz not null)");
    this.addSql("alter table \"relay\" add constraint \"relay_relay_id_unique\" unique (\"relay_id\")");
    this.addSql("create table \"relay_usage\" (\"id\" serial primary key, \"relay_id\" uuid not null, \"version\" varchar(32) not null, \"public_key\" varchar(64) null, \"first_seen\" timestamptz not null, \"last_seen\" timestamptz not null)");
    this.addSql("alter table \"relay_usage\" add constraint \"relay_usage_relay_id_version_unique\" unique (\"relay_id\", \"version\")");
    this.addSql("create table \"team\" (\"id\" serial primary key, \"organization_id\" int not null, \"slug\" varchar(50) not null, \"name\" varchar(64) not null, \"date_created\" timestamptz not null)");
    this.addSql("alter table \"team\" add constraint \"team_organization_id_slug_unique\" unique (\"organization_id\", \"slug\")");
    this.addSql("create table \"project\" (\"id\" serial primary key, \"organization_id\" int not null, \"team_id\" int null, \"template_id\" int null, \"slug\" varchar(50) not null, \"name\" varchar(200) not null, \"platform\" varchar(64) null, \"status\" text check (\"status\" in ('active', 'pending_deletion')) not null default 'active', \"date_created\" timestamptz not null, \"updated_at\" timestamptz not null)");
    this.addSql("create index \"project_template_id_index\" on \"project\" (\"template_id\")");
    this.addSql("alter table \"project\" add constraint \"project_organization_id_slug_unique\" unique (\"organization_id\", \"slug\")");
    this.addSql("create table \"project_option\" (\"id\" serial primary key, \"project_id\" int not null, \"key\" varchar(64) not null, \"value\" jsonb not null, \"updated_at\" timestamptz not null)");
    this.addSql("alter table \"project_option\" add constraint \"project_option_project_id_key_unique\" unique (\"project_id\", \"key\")");
    this.addSql("create table \"project_key\" (\"id\" serial primary key, \"project_id\" int not null, \"public_key\" char(32) not null, \"secret_key\" char(32) not null, \"status\" text check (\"status\" in ('active', 'inactive')) not null default 'active', \"label\" varchar(64) null, \"rate_limit_count\" int null, \"rate_limit_window\" int null, \"data\" jsonb not null default '{}', \"date_added\" timestamptz not null, \"updated_at\" timestamptz not null)");
    this.addSql("create index \"project_key_project_id_index\" on \"project_key\" (\"project_id\")");
    this.addSql("alter table \"project_key\" add constraint \"project_key_public_key_unique\" unique (\"public_key\")");
    this.addSql("alter table \"project_key\" add constraint \"project_key_secret_key_unique\" unique (\"secret_key\")");
    this.addSql("create table \"auth_user\" (\"id\" serial primary key, \"email\" varchar(200) not null, \"name\" varchar(200) not null default '', \"is_superuser\" boolean not null default false, \"is_active\" boolean not null default true, \"email_verified\" boolean not null default false, \"date_joined\" timestamptz not null)");
    this.addSql("alter table \"auth_user\" add constraint \"auth_user_email_unique\" unique (\"email\")");
    this.addSql("create table \"organization_member\" (\"id\" serial primary key, \"organization_id\" int not null, \"user_id\" int not null, \"role\" text check (\"role\" in ('owner', 'manager', 'admin', 'member')) not null default 'member', \"date_added\" timestamptz not null)");
    this.addSql("create index \"organization_member_user_id_index\" on \"organization_member\" (\"user_id\")");
    this.addSql("alter table \"organization_member\" add constraint \"organization_member_organization_id_user_id_unique\" unique (\"organization_id\", \"user_id\")");
    this.addSql("create table \"audit_log_entry\" (\"id\" serial primary key, \"organization_id\" int not null, \"actor_id\" int null, \"actor_label\" varchar(64) null, \"event\" varchar(64) not null, \"target_object\" int null, \"ip_address\" varchar(64) null, \"data\" jsonb not null, \"date_created\" timestamptz not null)");
    this.addSql("create index \"audit_log_entry_organization_id_date_created_index\" on \"audit_log_entry\" (\"organization_id\", \"date_created\")");
    this.addSql("create table \"api_token\" (\"id\" serial primary key, \"user_id\" int not null, \"hashed_token\" char(64) not null, \"token_last_characters\" varchar(4) not null, \"scopes\" jsonb not null, \"date_created\" timestamptz not null)");
    this.addSql("create index \"api_token_user_id_index\" on \"api_token\" (\"user_id\")");
    this.addSql("alter table \"api_token\" add constraint \"api_token_hashed_token_unique\" unique (\"hashed_token\")");
    this.addSql("create table \"user_permission\" (\"id\" serial primary key, \"user_id\" int not null, \"permission\" varchar(255) not null)");
    this.addSql("alter table \"user_permission\" add constraint \"user_permission_user_id_permission_unique\" unique (\"user_id\", \"permission\")");
    this.addSql("alter table \"organization_avatar\" add constraint \"organization_avatar_organization_id_foreign\" foreign key (\"organization_id\") references \"organization\" (\"id\") on update cascade on delete cascade");
    this.addSql("alter table \"organization_option\" add constraint \"organization_option_organization_id_foreign\" foreign key (\"organization_id\") references \"organization\" (\"id\") on update cascade on delete cascade");
    this.addSql("alter table \"project_template\" add constraint \"project_template_organization_id_foreign\" foreign key (\"organization_id\") references \"organization\" (\"id\") on update cascade on delete cascade");
    this.addSql("alter table \"project_template_option\" add constraint \"project_template_option_template_id_foreign\" foreign key (\"template_id\") references \"project_template\" (\"id\") on update cascade on delete cascade");
    this.addSql("alter table \"team\" add constraint \"team_organization_id_foreign\" foreign key (\"organization_id\") references \"organization\" (\"id\") on update cascade on delete cascade");
    this.addSql("alter table \"project\" add constraint \"project_organization_id_foreign\" foreign key (\"organization_id\") references \"organization\" (\"id\") on update cascade on delete cascade");
    this.addSql("alter table \"project\" add constraint \"project_team_id_foreign\" foreign key (\"team_id\") references \"team\" (\"id\") on update cascade on delete set null");
    this.addSql("alter table \"project\" add constraint \"project_template_id_foreign\" foreign key (\"template_id\") references \"project_template\" (\"id\") on update cascade on delete set null");
    this.addSql("alter table \"project_option\" add constraint \"project_option_project_id_foreign\" foreign key (\"project_id\") references \"project\" (\"id\") on update cascade on delete cascade");
    this.addSql("alter table \"project_key\" add constraint \"project_key_project_id_foreign\" foreign key (\"project_id\") references \"project\" (\"id\") on update cascade on delete cascade");
    this.addSql("alter table \"organization_member\" add constraint \"organization_member_organization_id_foreign\" foreign key (\"organization_id\") references \"organization\" (\"id\") on update cascade on delete cascade");
    this.addSql("alter table \"organization_member\" add constraint \"organization_member_user_id_foreign\" foreign key (\"user_id\") references \"auth_user\" (\"id\") on update cascade on delete cascade");
    this.addSql("alter table \"audit_log_entry\" add constraint \"audit_log_entry_organization_id_foreign\" foreign key (\"organization_id\") references \"organization\" (\"id\") on update cascade on delete cascade");
    this.addSql("alter table \"audit_log_entry\" add constraint \"audit_log_entry_actor_id_foreign\" foreign key (\"actor_id\") references \"auth_user\" (\"id\") on update cascade on delete set null");
    this.addSql("alter table \"api_token\" add constraint \"api_token_user_id_foreign\" foreign key (\"user_id\") references \"auth_user\" (\"id\") on update cascade on delete cascade");
    this.addSql("alter table \"user_permission\" add constraint \"user_permission_user_id_foreign\" foreign key (\"user_id\") references \"auth_user\" (\"id\") on update cascade on delete cascade");
  }

  override down(): void {
    this.addSql('drop table if exists "user_permission" cascade');
    this.addSql('drop table if exists "api_token" cascade');
    this.addSql('drop table if exists "audit_log_entry" cascade');
    this.addSql('drop table if exists "organization_member" cascade');
    this.addSql('drop table if exists "auth_user" cascade');
    this.addSql('drop table if exists "project_key" cascade');
    this.addSql('drop table if exists "project_option" cascade');
    this.addSql('drop table if exists "project" cascade');
    this.addSql('drop table if exists "team" cascade');
    this.addSql('drop table if exists "relay_usage" cascade');
    this.addSql('drop table if exists "relay" cascade');
    this.addSql('drop table if exists "project_template_option" cascade');
    this.addSql('drop table if exists "project_template" cascade');
    this.addSql('drop table if exists "organization_avatar" cascade');
    this.addSql('drop table if exists "organization_option" cascade');
    this.addSql('drop table if exists "organization" cascade');
  }
}
