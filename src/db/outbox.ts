import { createHash, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { RelayKeyCache } from '../caches/relay-key-cache';
import type { TrustedRelayKeyCache } from '../caches/trusted-relay-key-cache';
import type { ConfigChange, InvalidationScheduler } from '../queues/invalidate.queue';
import type { Orm } from './orm';

/**
 * The transactional outbox (DESIGN.md, "Every committed change reaches the Relays"). A transaction
 * that changes what Relays see inserts what must be published — invalidations, relay-key changes
 * — into `config_outbox`, in the same transaction: a rollback leaves no row, a commit leaves one
 * that survives a Redis outage and the death of the process. Drainers claim rows with a lease
 * (one statement, `FOR UPDATE SKIP LOCKED`, no transaction held across the Redis calls), publish
 * them, and delete them only after the publish succeeded; a row whose publish failed is released
 * and tried again, forever. Publishing a row twice is harmless.
 *
 * A relay's rows are published one at a time in id order: every write of a relay row holds that
 * row's lock until commit and inserts its outbox row under the lock, so id order is commit order,
 * and a removal can never be overtaken by an older registration.
 */

export type OutboxEntry =
  | { kind: 'invalidation'; change: ConfigChange }
  /** A relay's key was published (`publicKey`) or the relay was removed (`null`). */
  | { kind: 'relay-key'; relayId: string; publicKey: string | null }
  /**
   * The operator trusted or untrusted a relay key (`relays trust`). Publishing copies the key's
   * current row, whatever the row says now, so replays and re-publications are always right.
   */
  | { kind: 'trusted-relay-key'; publicKey: string };

export interface OutboxRow {
  id: string;
  /** Names the row in Redis (its pending marker), so a retried publish recognises its own marker. */
  token: string;
  entry: OutboxEntry;
  createdAt: Date;
  attempts: number;
}

/** Publishes one row; throws when it could not (the row is then tried again later). */
export type PublishOutboxRow = (row: OutboxRow) => Promise<void>;

/** What publishing a row means: an invalidation (one step, see `InvalidationScheduler.publish`) or a relay key. */
export function outboxPublisher(deps: {
  invalidations: Pick<InvalidationScheduler, 'publish'>;
  relayKeys: Pick<RelayKeyCache, 'publish' | 'remove'>;
  trustedKeys: Pick<TrustedRelayKeyCache, 'publish' | 'remove'>;
  /** The trusted key's name in PostgreSQL now, or null when it is not trusted. */
  trustedKeyName(publicKey: string): Promise<string | null>;
}): PublishOutboxRow {
  return async (row) => {
    const entry = row.entry;
    if (entry.kind === 'invalidation') await deps.invalidations.publish(entry.change, row.token);
    else if (entry.kind === 'trusted-relay-key') {
      const name = await deps.trustedKeyName(entry.publicKey);
      if (name === null) await deps.trustedKeys.remove(entry.publicKey);
      else await deps.trustedKeys.publish(entry.publicKey, name);
    } else if (entry.publicKey === null) await deps.relayKeys.remove(entry.relayId);
    else await deps.relayKeys.publish(entry.relayId, entry.publicKey);
  };
}

type Sql = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

function sqlOf(em: EntityManager, ctx?: object): Sql {
  return (sql, params) => em.getConnection('write').execute(sql, params, 'all', ctx);
}

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** Outbox row ids written under each root transaction, published by the fast path after it commits. */
const writtenUnder = new WeakMap<object, string[]>();

/**
 * The root of a (possibly nested) transaction: knex's typed `parentTransaction` of a savepoint.
 * Only the fast path uses it; the rows are in the table whatever it finds.
 */
export function rootTransaction(ctx: object): object {
  type Nested = { parentTransaction?: Nested };
  let current = ctx as Nested;
  while (current.parentTransaction) current = current.parentTransaction;
  return current;
}

/**
 * The column that serialises an entry's publication (`relay_id`): a relay's rows, and a trusted
 * key's rows under a UUID derived from the key, are published one at a time in id order.
 */
function orderingId(entry: OutboxEntry): string | null {
  if (entry.kind === 'relay-key') return entry.relayId;
  if (entry.kind === 'trusted-relay-key') {
    const hex = createHash('sha256').update(`trusted-relay-key:${entry.publicKey}`).digest('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  }
  return null;
}

/** Inserts rows on `ctx` (the transaction of the change) and returns their ids. */
export async function insertOutboxRows(em: EntityManager, ctx: object, entries: readonly OutboxEntry[]): Promise<string[]> {
  if (entries.length === 0) return [];
  const params: unknown[] = [];
  for (const entry of entries) params.push(entry.kind, orderingId(entry), JSON.stringify(entry));
  const values = entries.map(() => '(?, ?, ?::jsonb)').join(', ');
  const rows = await sqlOf(em, ctx)(`insert into "config_outbox" ("kind", "relay_id", "payload") values ${values} returning "id"`, params);
  const ids = rows.map((r) => String(r.id));
  const root = rootTransaction(ctx);
  writtenUnder.set(root, [...(writtenUnder.get(root) ?? []), ...ids]);
  return ids;
}

/**
 * Inside an explicit transaction (`em.transactional`): records entries to publish once it commits.
 * Services use it for writes the change subscriber cannot see (relay rows, deletions' keys).
 */
export async function writeOutbox(em: EntityManager, entries: readonly OutboxEntry[]): Promise<string[]> {
  const ctx = em.getTransactionContext<object>();
  if (!ctx) throw new Error('writeOutbox needs an explicit transaction (em.transactional)');
  return insertOutboxRows(em, ctx, entries);
}

/** The ids written under a root transaction that just committed or rolled back (forgotten either way). */
export function takeWrittenIds(transaction: object): string[] {
  const ids = writtenUnder.get(transaction) ?? [];
  writtenUnder.delete(transaction);
  return ids;
}

export interface OutboxStats {
  depth: number;
  /** Seconds since the oldest row was written; 0 when the outbox is empty. */
  oldestAgeS: number;
}

export async function outboxStats(orm: Orm): Promise<OutboxStats> {
  const [row] = await sqlOf(orm.em)(
    `select count(*)::int as "depth", coalesce(extract(epoch from clock_timestamp() - min("created_at")), 0)::float8 as "age" from "config_outbox"`,
    [],
  );
  return { depth: Number(row?.depth ?? 0), oldestAgeS: Number(row?.age ?? 0) };
}

export interface OutboxDrainerOptions {
  /** How long a claim lasts; a drainer that dies holding rows delays them by at most this. */
  leaseMs: number;
  batchSize: number;
  /** Pause between passes that found nothing. */
  pollMs: number;
  /** Longest pause between retries while publishing fails. */
  maxBackoffMs: number;
}

/** How long the fast path waits for rows of its commit that another drainer is publishing. */
const OTHERS_PUBLISH_WAIT_MS = 1000;

export const DEFAULT_DRAINER_OPTIONS: OutboxDrainerOptions = { leaseMs: 15_000, batchSize: 100, pollMs: 200, maxBackoffMs: 250 };

export interface OutboxDrainer {
  /** The fast path after a commit: publishes these rows now unless another drainer has them. Never throws. */
  publishNow(ids: readonly string[]): Promise<void>;
  /** One pass over whatever is claimable; returns how many rows were published. Throws when PostgreSQL fails. */
  drainOnce(): Promise<{ published: number; failed: number; claimed: number }>;
  /** Runs passes until `stop()`, retrying with capped backoff while PostgreSQL or Redis fail. */
  start(): void;
  stop(): Promise<void>;
}

export interface OutboxDrainerDeps {
  orm: Orm;
  publish: PublishOutboxRow;
  logger: Logger;
  onPublished?(row: OutboxRow): void;
}

interface ClaimedRow {
  id: unknown;
  token: unknown;
  payload: unknown;
  created_at: unknown;
  attempts: unknown;
}

export function createOutboxDrainer(deps: OutboxDrainerDeps, options: OutboxDrainerOptions = DEFAULT_DRAINER_OPTIONS): OutboxDrainer {
  const sql = sqlOf(deps.orm.em);
  const { logger } = deps;
  let backlogSince: number | null = null;
  let backlogSource: string | null = null;
  let failures = 0;
  let stopped = true;
  let running: Promise<void> | null = null;
  let wake: (() => void) | null = null;

  /** Leases up to `limit` claimable rows (all of `ids` when given) in one statement. */
  async function claim(limit: number, ids?: readonly string[]): Promise<{ lease: string; rows: OutboxRow[] }> {
    const lease = randomUUID();
    const only = ids ? `and c."id" in (${placeholders(ids.length)})` : '';
    const rows = await sql(
      `update "config_outbox" o set "lease_until" = clock_timestamp() + make_interval(secs => ?), "lease_token" = ?, "attempts" = o."attempts" + 1
       where o."id" in (
         select c."id" from "config_outbox" c
         where (c."lease_until" is null or c."lease_until" < clock_timestamp())
           and (c."relay_id" is null or not exists (select 1 from "config_outbox" p where p."relay_id" = c."relay_id" and p."id" < c."id"))
           ${only}
         order by c."id" limit ? for update skip locked)
       returning o."id", o."token", o."payload", o."created_at", o."attempts"`,
      [options.leaseMs / 1000, lease, ...(ids ?? []), limit],
    );
    const claimed = (rows as unknown as ClaimedRow[]).map((r) => ({
      id: String(r.id),
      token: String(r.token),
      entry: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as OutboxEntry,
      createdAt: new Date(r.created_at as string),
      attempts: Number(r.attempts),
    }));
    claimed.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
    return { lease, rows: claimed };
  }

  async function publishClaimed(lease: string, rows: OutboxRow[]): Promise<{ published: number; failed: number; error: Error | null }> {
    const done: string[] = [];
    const failed: string[] = [];
    let error: Error | null = null;
    for (const row of rows) {
      try {
        await deps.publish(row);
        done.push(row.id);
        deps.onPublished?.(row);
      } catch (err) {
        failed.push(row.id);
        error ??= err as Error;
      }
    }
    if (done.length > 0) await sql(`delete from "config_outbox" where "id" in (${placeholders(done.length)}) and "lease_token" = ?`, [...done, lease]);
    // Released at once, so another drainer (e.g. a worker that still reaches Redis) can try.
    if (failed.length > 0) {
      await sql(`update "config_outbox" set "lease_until" = null, "lease_token" = null where "id" in (${placeholders(failed.length)}) and "lease_token" = ?`, [...failed, lease]).catch(() => undefined);
    }
    return { published: done.length, failed: failed.length, error };
  }

  function noteFailure(error: Error, source: string): void {
    failures += 1;
    if (backlogSince !== null) return;
    backlogSince = Date.now();
    backlogSource = source;
    logger.warn({ err: error.message, source }, 'outbox backlog: committed changes wait in the outbox until they can be published');
  }

  function noteDrained(): void {
    failures = 0;
    if (backlogSince === null) return;
    logger.info({ backlogMs: Date.now() - backlogSince }, 'outbox backlog drained');
    backlogSince = null;
  }

  async function drainOnce() {
    const { lease, rows } = await claim(options.batchSize);
    if (rows.length === 0) {
      noteDrained();
      return { published: 0, failed: 0, claimed: 0 };
    }
    const { published, failed, error } = await publishClaimed(lease, rows);
    if (error) noteFailure(error, 'drainer');
    else if (rows.length < options.batchSize) noteDrained();
    return { published, failed, claimed: rows.length };
  }

  /** Waits until these rows are deleted (published), polling, at most `OTHERS_PUBLISH_WAIT_MS`. */
  async function waitUntilGone(ids: readonly string[]): Promise<void> {
    const deadline = Date.now() + OTHERS_PUBLISH_WAIT_MS;
    while (Date.now() < deadline) {
      const left = await sql(`select 1 from "config_outbox" where "id" in (${placeholders(ids.length)}) limit 1`, [...ids]);
      if (left.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  const backoffMs = () => Math.min(options.maxBackoffMs, 50 * 2 ** Math.min(failures, 10));

  async function loop(): Promise<void> {
    while (!stopped) {
      let pause = options.pollMs;
      try {
        const pass = await drainOnce();
        if (pass.failed > 0) pause = backoffMs();
        else if (pass.claimed === options.batchSize) pause = 0;
      } catch (error) {
        noteFailure(error as Error, 'drainer');
        pause = backoffMs();
      }
      if (pause > 0 && !stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pause);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
    }
  }

  return {
    async publishNow(ids) {
      if (ids.length === 0) return;
      try {
        const { lease, rows } = await claim(ids.length, ids);
        const { error } = rows.length > 0 ? await publishClaimed(lease, rows) : { error: null };
        // Rows another drainer leased in the moment after the commit (or that wait behind an
        // earlier row of their relay) are published by it within milliseconds: wait for that,
        // briefly, so the change is in Redis when the caller answers (a relay that registered
        // must be known to the next request), as it is when this path publishes them itself.
        if (!error && rows.length < ids.length) await waitUntilGone(ids.filter((id) => !rows.some((row) => row.id === id)));
        if (error) noteFailure(error, 'after-commit');
        else if (backlogSince !== null && backlogSource === 'after-commit') {
          // Only the API's own failures end here; the drainers log when the backlog is gone.
          backlogSince = null;
          failures = 0;
        }
      } catch (error) {
        // The rows are committed: a drainer publishes them once PostgreSQL and Redis answer.
        noteFailure(error as Error, 'after-commit');
      }
    },
    drainOnce,
    start() {
      if (!stopped) return;
      stopped = false;
      running = loop();
    },
    async stop() {
      stopped = true;
      wake?.();
      await running;
      running = null;
    },
  };
}
