import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { deflatePiece, GzipSplicer, type DeflatedPiece } from '../caches/gzip-splice';
import { DISABLED_JSON, type ProjectConfigCache } from '../caches/project-config-cache';
import { createReplyBudget, type ReplyBudget } from './reply-budget';
import type { Settings } from '../config/settings';
import { computeConfigsByProject, computeOptionsOf, reportConfigFailures, type ComputedConfig, type ComputeResult } from '../db/compute-configs';
import type { Orm } from '../db/orm';
import { RelayStringError, ServiceUnavailableError } from '../errors';
import type { Metrics } from '../metrics';
import { scheduleBuildProjectConfig, type BuildQueue } from '../queues/build.queue';
import type { AuthenticatedRelay } from '../relay-auth/middleware';
import { restrictConfig } from '../relay-config/restricted-config';
import type { ProjectConfig } from '../relay-config/types';
import { withTimeout } from '../with-timeout';
import { computeConfigsNow } from './configs';

/**
 * What Relay's `POST /api/0/relays/projectconfigs/` answers (PROTOCOL.md §4). Version 3 is
 * post-or-schedule by key and never touches PostgreSQL: each key is answered from the cache or
 * claimed and scheduled for a build and listed in `pending`. Versions 1 and 2 and `noCache`
 * compute synchronously with the same loader and builder, and refresh the cache with the result.
 *
 * A key whose config cannot be computed never fails the request: v1/v2/`noCache` leave it out of
 * `configs` (Relay reads an absent key as disabled, and nothing wrong is cached for it); on the v3
 * cached path it stays `pending` while its build claim lives, and a later poll retries the build.
 */

/** Relay rejects responses over 20 MiB; stay below with room for the envelope. */
export const MAX_RESPONSE_BYTES = 20 * 1024 * 1024 - 64 * 1024;

const UNAUTHORIZED = 'Relay unauthorized for config information';

/** The relay asking, as far as its answer depends on it. */
export type ConfigRelay = Pick<AuthenticatedRelay, 'internal' | 'publicKey'>;

/** A version 3 request: unique, well-formed keys with their revisions (same length). */
export interface KeysRequest {
  keys: readonly string[];
  revisions: readonly (string | null)[];
  noCache: boolean;
  global: boolean;
  /** The client accepts a gzip body (Relay sends `Accept-Encoding: gzip`). */
  acceptsGzip?: boolean;
}

export interface ProjectConfigDeps {
  settings: Pick<Settings, 'allowedOrigins' | 'defaultFeatures' | 'eventRetentionDays' | 'configCacheTtlS' | 'buildBatchSize' | 'globalConfig' | 'relayAllowTrusted'>;
  metrics: Metrics;
  logger: Logger;
  orm: Orm;
  configCache: ProjectConfigCache;
  buildQueue: BuildQueue;
}

/**
 * A reply body as the chunks to write in order (never joined into one buffer on the hot path: a
 * 100-config reply is ~1 MiB, and each copy of it costs a large allocation and GC work), its
 * length in bytes, and whether it is gzip (`Content-Encoding: gzip`).
 */
export interface ConfigReply {
  chunks: readonly Buffer[];
  length: number;
  gzip: boolean;
  /** Call once the reply is written or abandoned: gives its bytes back to the reply budget. */
  release?: () => void;
}

/** The whole body of a reply in one buffer (for callers that want it in one piece, e.g. tests). */
export function replyBody(reply: ConfigReply): Buffer {
  return Buffer.concat(reply.chunks, reply.length);
}

const CONFIGS_OPEN = Buffer.from('{"configs":{');

/**
 * Builds the response from the stored config bytes without parsing or re-encoding them. Plain:
 * the stored buffers are passed on as they are, between small buffers of JSON glue, and written
 * to the socket together (one `writev`), never copied into one body. gzip: stored pre-compressed
 * configs are spliced in as they are and only the JSON glue is added (gzip-splice.ts), so no
 * config is compressed per request; a config that arrives as plain bytes (computed now, or stored
 * without its piece by an older version) is compressed here. The 20 MiB cap counts plain bytes
 * either way.
 */
class ReplyWriter {
  private readonly chunks: Buffer[] = [];
  private readonly splicer: GzipSplicer | null;
  private bytes = 0;
  private count = 0;
  /** Bytes of stored buffers (configs or pieces) this reply holds, for the reply budget. */
  storedBytes = 0;
  /** How many stored buffers those are. */
  storedCount = 0;
  /** Keys left out to stay under Relay's 20 MiB cap; v3 lists them as pending. */
  readonly overflow: string[] = [];

  constructor(gzip: boolean) {
    this.splicer = gzip ? new GzipSplicer() : null;
    if (this.splicer) this.splicer.addPlain(CONFIGS_OPEN);
    else this.chunks.push(CONFIGS_OPEN);
  }

  /** Whether an entry of `entryLength` plain bytes fits under the cap; counts it. */
  private fits(key: string, entryLength: number): boolean {
    if (this.bytes + entryLength + 1 > MAX_RESPONSE_BYTES) {
      this.overflow.push(key);
      return false;
    }
    this.bytes += entryLength + 1;
    return true;
  }

  /** Counts an entry whose stored buffer has `storedLength` bytes; true when one came before it (a comma goes between). */
  private startEntry(storedLength: number): boolean {
    this.storedBytes += storedLength;
    this.storedCount += 1;
    return this.count++ > 0;
  }

  addConfig(key: string, json: Buffer | string): void {
    const bytes = typeof json === 'string' ? Buffer.from(json) : json;
    const entryHead = `"${key}":`;
    if (!this.fits(key, entryHead.length + bytes.length)) return;
    const comma = this.startEntry(bytes.length);
    if (this.splicer) {
      if (comma) this.splicer.addPlain(',');
      this.splicer.addPiece(deflatePiece(Buffer.concat([Buffer.from(entryHead), bytes])));
    } else {
      // Keys are 32 hex characters (the route keeps no other): latin1 is their UTF-8.
      this.chunks.push(Buffer.from(comma ? `,${entryHead}` : entryHead, 'latin1'), bytes);
    }
  }

  /** A stored pre-compressed reply entry `"<key>":<config>` (only asked for when the reply is gzip). */
  addPiece(key: string, piece: DeflatedPiece): void {
    if (!this.splicer) throw new Error('a pre-compressed piece in a plain reply');
    if (!this.fits(key, piece.length)) return;
    if (this.startEntry(piece.deflated.length)) this.splicer.addPlain(',');
    this.splicer.addPiece(piece);
  }

  finish(extra: { pending?: string[]; unchanged?: string[]; global?: Record<string, unknown> | null } = {}): ConfigReply {
    let tail = '}';
    if (extra.pending) tail += `,"pending":${JSON.stringify([...extra.pending, ...this.overflow])}`;
    if (extra.unchanged?.length) tail += `,"unchanged":${JSON.stringify(extra.unchanged)}`;
    if (extra.global) tail += `,"global":${JSON.stringify(extra.global)},"globalStatus":"ready","global_status":"ready"`;
    tail += '}';
    if (this.splicer) {
      this.splicer.addPlain(tail);
      const body = this.splicer.finish();
      return { chunks: [body], length: body.length, gzip: true };
    }
    this.chunks.push(Buffer.from(tail));
    let length = 0;
    for (const chunk of this.chunks) length += chunk.length;
    return { chunks: this.chunks, length, gzip: false };
  }
}

function restrictedJson(config: ProjectConfig, relay: ConfigRelay): string {
  const restricted = restrictConfig(config, relay.publicKey);
  return restricted.disabled ? DISABLED_JSON : JSON.stringify(restricted);
}

export interface ProjectConfigService {
  /** Throws 403 unless this relay may read configs at all (internal, or trusted relays are allowed). */
  authorize(relay: ConfigRelay): void;
  /** Version 3: the response body, bytes ready to send (gzip when accepted, for internal relays' cached keys). */
  versionThree(relay: ConfigRelay, request: KeysRequest): Promise<ConfigReply>;
  /** Version 2: computed now; the response body, bytes ready to send. */
  versionTwo(relay: ConfigRelay, keys: readonly string[]): Promise<ConfigReply>;
  /** Version 1 (internal relays only): one config per project id, computed now. */
  versionOne(relay: ConfigRelay, projectIds: readonly number[]): Promise<{ configs: Record<string, ProjectConfig> }>;
}

/** Config bytes all v3 replies of a process may hold at once before new ones wait (reply-budget.ts). */
export const REPLY_BUDGET_BYTES = 32 * 1024 * 1024;
/** The longest a reply waits for the budget; then its cached keys are listed as pending, unread (with the 2 s Redis command timeout it stays under Relay's 5 s). */
export const REPLY_BUDGET_MAX_WAIT_MS = 2000;

export function createProjectConfigService(deps: ProjectConfigDeps, budget: ReplyBudget = createReplyBudget(REPLY_BUDGET_BYTES, REPLY_BUDGET_MAX_WAIT_MS)): ProjectConfigService {
  const { settings, metrics } = deps;
  /** Mean stored bytes per config (plain) and per piece (gzip), learnt from replies: the budget's estimate. */
  const meanStored = { plain: 16 * 1024, deflated: 4 * 1024 };

  /** Writes synchronously computed configs to the cache unless the data changed meanwhile. */
  async function refreshCache(computed: ComputedConfig[], startedAt: number): Promise<void> {
    await deps.configCache.writeIfCurrent(computed, startedAt, settings.configCacheTtlS, null);
    metrics.projectConfigBuilds.inc({ trigger: 'request' }, computed.length);
  }

  async function computeNow(keys: readonly string[]): Promise<ComputeResult> {
    const startedAt = await deps.configCache.generation();
    const computed = await computeConfigsNow(deps, keys);
    await refreshCache(computed.configs, startedAt);
    reportConfigFailures(deps, computed.failures, 'request');
    return computed;
  }

  /** Enqueues the build; if that fails the claims are freed so the next poll tries again. */
  async function scheduleClaimed(claimed: string[], token: string): Promise<void> {
    try {
      const jobs = await withTimeout(scheduleBuildProjectConfig(deps.buildQueue, claimed, token, settings.buildBatchSize), 2000);
      metrics.buildJobsScheduled.inc(jobs);
    } catch (error) {
      await deps.configCache.releaseClaims(claimed, token).catch(() => undefined);
      deps.logger.warn({ err: (error as Error).message }, 'could not enqueue a build job');
      throw new ServiceUnavailableError('redis');
    }
  }

  return {
    authorize(relay) {
      if (!relay.internal && !settings.relayAllowTrusted) throw new RelayStringError('relay_unauthorized', UNAUTHORIZED);
    },

    async versionThree(relay, request) {
      const { keys, revisions } = request;
      const restricted = !relay.internal;
      // gzip from stored pieces: for internal relays on the cached path (restricted views and
      // synchronous computes would have to compress every config per request).
      const gzip = request.acceptsGzip === true && !restricted && !request.noCache;
      const writer = new ReplyWriter(gzip);
      const pending: string[] = [];
      const unchanged: string[] = [];
      const global = request.global ? settings.globalConfig : null;

      if (request.noCache) {
        const { configs, failures } = await computeNow(keys);
        for (const c of configs) writer.addConfig(c.publicKey, restricted ? restrictedJson(c.config, relay) : c.json);
        metrics.projectConfigKeys.inc({ result: 'computed' }, configs.length);
        metrics.projectConfigKeys.inc({ result: 'failed' }, failures.length);
      } else {
        // A key sent with a revision is mostly answered `unchanged`: it counts a tenth of a config.
        const expected = revisions.reduce((n, rev) => n + (rev ? 0.1 : 1), 0);
        const mean = gzip ? 'deflated' : 'plain';
        const lease = await budget.acquire(Math.ceil(expected * meanStored[mean]));
        try {
          const token = randomUUID();
          // Over the budget (it waited its longest): cached keys are answered as pending, unread.
          const results = await deps.configCache.lookupOrClaim(keys, revisions, token, { deflated: gzip, withoutBytes: !lease.granted });
          const claimed: string[] = [];
          let heldBack = 0;
          results.forEach((result, i) => {
            const key = keys[i];
            // Internal relays get the stored bytes as they are; only a restricted view needs the parsed config.
            if (result.status === 'cached-deflated') writer.addPiece(key, result.piece);
            else if (result.status === 'cached') writer.addConfig(key, restricted ? restrictedJson(JSON.parse(result.json.toString('utf8')) as ProjectConfig, relay) : result.json);
            else if (result.status === 'unchanged') unchanged.push(key);
            else if (result.status === 'held-back') {
              pending.push(key);
              heldBack += 1;
            } else {
              pending.push(key);
              if (result.status === 'claimed') claimed.push(key);
            }
          });
          if (claimed.length > 0) await scheduleClaimed(claimed, token);
          metrics.projectConfigKeys.inc({ result: 'cached' }, keys.length - pending.length - unchanged.length);
          metrics.projectConfigKeys.inc({ result: 'pending' }, pending.length - heldBack);
          metrics.projectConfigKeys.inc({ result: 'held_back' }, heldBack);
          metrics.projectConfigKeys.inc({ result: 'unchanged' }, unchanged.length);
          metrics.buildClaimConflicts.inc(pending.length - heldBack - claimed.length);
          lease.resize(writer.storedBytes);
          if (writer.storedCount > 0) meanStored[mean] = Math.round(0.9 * meanStored[mean] + (0.1 * writer.storedBytes) / writer.storedCount);
        } catch (error) {
          lease.release();
          throw error;
        }
        return { ...writer.finish({ pending, unchanged, global }), release: lease.release };
      }
      return writer.finish({ pending, unchanged, global });
    },

    async versionTwo(relay, keys) {
      const writer = new ReplyWriter(false);
      for (const c of (await computeNow(keys)).configs) writer.addConfig(c.publicKey, relay.internal ? c.json : restrictedJson(c.config, relay));
      // Version 2 has no `pending`: a key past the cap is left out, which Relay reads as disabled.
      return writer.finish();
    },

    async versionOne(relay, projectIds) {
      if (!relay.internal) throw new RelayStringError('relay_unauthorized', UNAUTHORIZED);
      const startedAt = await deps.configCache.generation();
      const { projects, failures } = await computeConfigsByProject(deps.orm.em.fork(), projectIds, computeOptionsOf(settings));
      await refreshCache([...projects.values()].flatMap((p) => p.keys), startedAt);
      reportConfigFailures(deps, failures, 'request');
      const configs: Record<string, ProjectConfig> = {};
      for (const [projectId, { config }] of projects) if (config) configs[String(projectId)] = config;
      return { configs };
    },
  };
}
