import { Migration } from '@mikro-orm/migrations';
import { FEATURE_DEFINITIONS } from '../../options/features';

const TABLES = ['organization_option', 'project_option', 'project_template_option'] as const;

/**
 * Stored `sentry:features` lists (flag names to turn on) become `sentry:feature_overrides`
 * objects (flag → true), merged under overrides already stored. Names outside the flag registry
 * are dropped and listed in the migration's output; the old rows are removed.
 */
export class Migration20261201200000FeatureOverrides extends Migration {
  override async up(): Promise<void> {
    const known = `array[${FEATURE_DEFINITIONS.map((f) => `'${f.name}'`).join(', ')}]::text[]`;
    for (const table of TABLES) {
      const owner = table === 'organization_option' ? 'organization_id' : table === 'project_option' ? 'project_id' : 'template_id';
      const dropped = (await this.execute(
        `select o.${owner} as owner, name from "${table}" o, jsonb_array_elements_text(case when jsonb_typeof(o.value) = 'array' then o.value else '[]'::jsonb end) name
         where o.key = 'sentry:features' and not (name = any(${known}))`,
      )) as { owner: number; name: string }[];
      // Migrations run before the service's logger exists; the operator reads this in the migrate output.
      // eslint-disable-next-line no-console
      for (const row of dropped) console.warn(`feature overrides migration: ${table} ${owner}=${row.owner}: dropped unknown feature flag "${row.name}"`);
      await this.execute(
        `insert into "${table}" (${owner}, key, value, updated_at)
         select o.${owner}, 'sentry:feature_overrides',
                coalesce((select jsonb_object_agg(name, true) from jsonb_array_elements_text(case when jsonb_typeof(o.value) = 'array' then o.value else '[]'::jsonb end) name where name = any(${known})), '{}'::jsonb),
                now()
         from "${table}" o where o.key = 'sentry:features'
         on conflict (${owner}, key) do update set value = excluded.value || "${table}".value, updated_at = now()`,
      );
      await this.execute(`delete from "${table}" where key = 'sentry:feature_overrides' and value = '{}'::jsonb`);
      await this.execute(`delete from "${table}" where key = 'sentry:features'`);
    }
  }

  override async down(): Promise<void> {
    // Overrides that turn a flag off have no `sentry:features` form; only the "on" ones go back.
    for (const table of TABLES) {
      const owner = table === 'organization_option' ? 'organization_id' : table === 'project_option' ? 'project_id' : 'template_id';
      await this.execute(
        `insert into "${table}" (${owner}, key, value, updated_at)
         select ${owner}, 'sentry:features', coalesce((select jsonb_agg(k) from jsonb_each(value) e(k, v) where v = 'true'::jsonb), '[]'::jsonb), now()
         from "${table}" where key = 'sentry:feature_overrides'
         on conflict (${owner}, key) do nothing`,
      );
      await this.execute(`delete from "${table}" where key = 'sentry:feature_overrides'`);
    }
  }
}
