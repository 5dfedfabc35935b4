import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, initOrm, migratorOf, type Orm } from '../src/db/orm';
import { MIGRATION_NAMES } from '../src/db/migrations/names';
import { freshDatabaseUrl } from './support/harness';

describe('applying migrations at start', () => {
  let orm: Orm;
  beforeAll(async () => {
    orm = await initOrm({ databaseUrl: await freshDatabaseUrl() }, pino({ level: 'warn' }));
  });
  afterAll(() => orm.close(true));

  it('on an up-to-date database applies nothing and never loads the Migrator', async () => {
    expect(await applyMigrations(orm)).toEqual([]);
    expect(orm.config.getExtension('@mikro-orm/migrator')).toBeUndefined();
  });

  it('applies what is missing', async () => {
    const last = MIGRATION_NAMES[MIGRATION_NAMES.length - 1];
    await (await migratorOf(orm)).down(); // the last one
    expect(await applyMigrations(orm)).toEqual([last]);
    const rows = await orm.em.getConnection().execute<{ name: string }[]>('select name from mikro_orm_migrations order by id');
    expect(rows.map((r) => r.name)).toEqual([...MIGRATION_NAMES]);
  });
});
