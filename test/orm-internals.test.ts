import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initOrm, type Orm } from '../src/db/orm';
import { rootTransaction } from '../src/db/outbox';
import { freshDatabaseUrl } from './support/harness';

/**
 * The one place the service leans on the ORM's transaction objects (the outbox's fast path finds
 * a savepoint's root transaction). Pinned here: a MikroORM or knex upgrade that changes it fails
 * this test instead of silently slowing change delivery to the workers' poll.
 */
describe('ORM internals the service relies on', () => {
  let orm: Orm;
  beforeAll(async () => {
    orm = await initOrm({ databaseUrl: await freshDatabaseUrl() }, pino({ level: 'warn' }));
  });
  afterAll(() => orm.close(true));

  it('finds the root transaction of a savepoint, and a root transaction is its own root', async () => {
    await orm.em.fork().transactional(async (outer) => {
      const root = outer.getTransactionContext() as object;
      expect(rootTransaction(root)).toBe(root);
      await outer.transactional(async (inner) => {
        const savepoint = inner.getTransactionContext() as object;
        expect(savepoint).not.toBe(root);
        expect(rootTransaction(savepoint)).toBe(root);
        await inner.transactional((innermost) => {
          expect(rootTransaction(innermost.getTransactionContext() as object)).toBe(root);
          return Promise.resolve();
        });
      });
    });
  });
});
