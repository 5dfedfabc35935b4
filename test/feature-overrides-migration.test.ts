import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initOrm, migratorOf, type Orm } from '../src/db/orm';
import { freshDatabaseUrl } from './support/harness';

/** Migration20261201200000FeatureOverrides: stored `sentry:features` lists become overrides. */
describe('the feature overrides migration', () => {
  let orm: Orm;
  beforeAll(async () => {
    orm = await initOrm({ databaseUrl: await freshDatabaseUrl() }, pino({ level: 'warn' }));
  });
  afterAll(() => orm.close(true));

  it('turns known flags into true overrides, keeps existing overrides, drops and reports unknown names, removes the old rows', async () => {
    const migrator = await migratorOf(orm);
    await migrator.down({ to: 'Migration20261201000000SystemOption' });
    const sql = orm.em.getConnection();
    const [{ id: orgId }] = await sql.execute<{ id: number }[]>(`insert into "organization" (name, slug, status, date_created, updated_at, require_email_verification, avatar_type) values ('A', 'a', 'active', now(), now(), false, 'letter_avatar') returning id`);
    await sql.execute(`insert into "organization_option" (organization_id, key, value, updated_at) values (?, 'sentry:features', '["organizations:session-replay", "organizations:made-up"]', now())`, [orgId]);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    await migrator.up();
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringContaining('dropped unknown feature flag "organizations:made-up"')]);
    warn.mockRestore();
    const rows = await sql.execute<{ key: string; value: unknown }[]>(`select key, value from "organization_option" where organization_id = ?`, [orgId]);
    expect(rows).toEqual([{ key: 'sentry:feature_overrides', value: { 'organizations:session-replay': true } }]);
  });
});
