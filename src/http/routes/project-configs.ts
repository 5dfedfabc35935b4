import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { DISABLED_JSON, type LookupResult } from '../../caches/project-config-cache';
import { computeConfigsByProject, computeOptionsOf, computeProjectConfigs, reportConfigFailures, type ComputedConfig, type ComputeResult } from '../../db/compute-configs';
import type { Container } from '../../container';
import { BadRequestError, RelayStringError, ServiceUnavailableError } from '../../errors';
import { scheduleBuildProjectConfig } from '../../queues/build.queue';
import type { AuthenticatedRelay } from '../../relay-auth/middleware';
import { restrictConfig } from '../../relay-config/restricted-config';
import type { ProjectConfig } from '../../relay-config/types';
import { withTimeout } from '../../with-timeout';

/**
 * `POST /api/0/relays/projectconfigs/?version=N` (PROTOCOL.md §4). Version 3 is
 * post-or-schedule by key and never touches PostgreSQL: each key is answered from the cache or
 * claimed and scheduled for a build and listed in `pending`. Versions 1 and 2 and `noCache`
 * compute synchronously with the same loader and builder.
 *
 * A key whose config cannot be computed never fails the request: v1/v2/`noCache` leave it out of
 * `configs` (Relay reads an absent key as disabled, and nothing wrong is cached for it); on the v3
 * cached path it stays `pending` while its build claim lives, and a later poll retries the build.
 */

const MAX_KEYS = 500;
/** Relay rejects responses over 20 MiB; stay below with room for the envelope. */
export const MAX_RESPONSE_BYTES = 20 * 1024 * 1024 - 64 * 1024;
const PUBLIC_KEY_RE = /^[0-9a-f]{32}$/;

const requestSchema = z.object({
  publicKeys: z.array(z.string(), { error: 'publicKeys must be a list of strings' }).max(MAX_KEYS, `publicKeys may hold at most ${MAX_KEYS} keys`).optional(),
  revisions: z.array(z.string().nullable(), { error: 'revisions must be a list of strings or nulls' }).optional().nullable(),
  fullConfig: z.boolean({ error: 'fullConfig must be a boolean' }).optional().nullable(),
  noCache: z.boolean({ error: 'noCache must be a boolean' }).optional().nullable(),
  global: z.boolean({ error: 'global must be a boolean' }).optional().nullable(),
  projects: z
    .array(z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]), { error: 'projects must be a list of project ids' })
    .max(MAX_KEYS, `projects may hold at most ${MAX_KEYS} ids`)
    .optional(),
});
type ConfigRequest = z.infer<typeof requestSchema>;

const optionalBoolean = (v: unknown) => v === undefined || v === null || typeof v === 'boolean';

/** The shape Relay actually sends, checked directly; anything else goes through the schema. */
function isCommonRequest(body: Record<string, unknown>): boolean {
  const { publicKeys, revisions, fullConfig, noCache, global, projects } = body;
  return (
    Array.isArray(publicKeys) &&
    publicKeys.length <= MAX_KEYS &&
    publicKeys.every((k) => typeof k === 'string') &&
    (revisions === undefined || revisions === null || (Array.isArray(revisions) && revisions.every((r) => r === null || typeof r === 'string'))) &&
    optionalBoolean(fullConfig) &&
    optionalBoolean(noCache) &&
    optionalBoolean(global) &&
    projects === undefined
  );
}

function parseRequest(body: unknown): ConfigRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('The request body must be a JSON object');
  if (isCommonRequest(body as Record<string, unknown>)) return body as ConfigRequest;
  const parsed = requestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.');
    throw new BadRequestError(field && !issue.message.startsWith(String(issue.path[0])) ? `${field}: ${issue.message}` : issue.message);
  }
  return parsed.data;
}

/** Unique, well-formed keys in request order with their revisions (all null when the lengths differ). */
function requestedKeys(request: ConfigRequest): { keys: string[]; revisions: (string | null)[] } {
  const publicKeys = request.publicKeys ?? [];
  const revisions = request.revisions && request.revisions.length === publicKeys.length ? request.revisions : null;
  const seen = new Set<string>();
  const keys: string[] = [];
  const revs: (string | null)[] = [];
  publicKeys.forEach((key, i) => {
    if (!PUBLIC_KEY_RE.test(key) || seen.has(key)) return;
    seen.add(key);
    keys.push(key);
    revs.push(revisions?.[i] ?? null);
  });
  return { keys, revisions: revs };
}

/**
 * Builds the response from the stored config bytes without parsing or re-encoding them: the
 * pieces are copied once into one buffer.
 */
class ResponseWriter {
  private readonly parts: (string | Buffer)[] = ['{"configs":{'];
  private bytes = 0;
  /** Keys left out to stay under Relay's 20 MiB cap; v3 lists them as pending. */
  readonly overflow: string[] = [];

  addConfig(key: string, json: Buffer | string): void {
    const size = (typeof json === 'string' ? Buffer.byteLength(json) : json.length) + key.length + 4;
    if (this.bytes + size > MAX_RESPONSE_BYTES) {
      this.overflow.push(key);
      return;
    }
    this.parts.push(this.bytes === 0 ? `"${key}":` : `,"${key}":`, json);
    this.bytes += size;
  }

  finish(extra: { pending?: string[]; unchanged?: string[]; global?: Record<string, unknown> | null } = {}): Buffer {
    let tail = '}';
    if (extra.pending) tail += `,"pending":${JSON.stringify([...extra.pending, ...this.overflow])}`;
    if (extra.unchanged?.length) tail += `,"unchanged":${JSON.stringify(extra.unchanged)}`;
    if (extra.global) tail += `,"global":${JSON.stringify(extra.global)},"globalStatus":"ready","global_status":"ready"`;
    this.parts.push(`${tail}}`);
    const lengths = this.parts.map((p) => (typeof p === 'string' ? Buffer.byteLength(p) : p.length));
    const out = Buffer.allocUnsafe(lengths.reduce((a, b) => a + b, 0));
    let offset = 0;
    this.parts.forEach((p, i) => {
      if (typeof p === 'string') out.write(p, offset, 'utf8');
      else p.copy(out, offset);
      offset += lengths[i]!;
    });
    return out;
  }
}

export function projectConfigsHandler(container: Container) {
  const { settings, metrics } = container;
  const computeOptions = computeOptionsOf(settings);

  /** Writes synchronously computed configs to the cache unless the data changed meanwhile. */
  async function refreshCache(computed: ComputedConfig[], startedAt: number): Promise<void> {
    await container.configCache.writeIfCurrent(computed, startedAt, settings.configCacheTtlS, null);
    metrics.projectConfigBuilds.inc({ trigger: 'request' }, computed.length);
  }

  async function computeNow(keys: string[]): Promise<ComputeResult> {
    const startedAt = await container.configCache.generation();
    const computed = await computeProjectConfigs(container.orm.em.fork(), keys, computeOptions);
    await refreshCache(computed.configs, startedAt);
    reportConfigFailures(container, computed.failures, 'request');
    return computed;
  }

  async function versionThree(relay: AuthenticatedRelay, request: ConfigRequest, res: Response): Promise<void> {
    const { keys, revisions } = requestedKeys(request);
    const restricted = !relay.internal;
    const writer = new ResponseWriter();
    const pending: string[] = [];
    const unchanged: string[] = [];
    const global = request.global ? settings.globalConfig : null;

    if (request.noCache) {
      const { configs, failures } = await computeNow(keys);
      for (const c of configs) writer.addConfig(c.publicKey, restricted ? restrictedJson(c.config, relay) : c.json);
      metrics.projectConfigKeys.inc({ result: 'computed' }, configs.length);
      metrics.projectConfigKeys.inc({ result: 'failed' }, failures.length);
    } else {
      const token = randomUUID();
      const results = await container.configCache.lookupOrClaim(keys, revisions, token);
      const claimed: string[] = [];
      results.forEach((result: LookupResult, i) => {
        const key = keys[i]!;
        if (result.status === 'cached') writer.addConfig(key, restricted ? restrictedJson(JSON.parse(result.json.toString('utf8')) as ProjectConfig, relay) : result.json);
        else if (result.status === 'unchanged') unchanged.push(key);
        else {
          pending.push(key);
          if (result.status === 'claimed') claimed.push(key);
        }
      });
      if (claimed.length > 0) await scheduleClaimed(claimed, token);
      metrics.projectConfigKeys.inc({ result: 'cached' }, keys.length - pending.length - unchanged.length);
      metrics.projectConfigKeys.inc({ result: 'pending' }, pending.length);
      metrics.projectConfigKeys.inc({ result: 'unchanged' }, unchanged.length);
      metrics.buildClaimConflicts.inc(pending.length - claimed.length);
    }
    sendJson(res, writer.finish({ pending, unchanged, global }));
  }

  /** Enqueues the build; if that fails the claims are freed so the next poll tries again. */
  async function scheduleClaimed(claimed: string[], token: string): Promise<void> {
    try {
      const jobs = await withTimeout(scheduleBuildProjectConfig(container.queues.build, claimed, token, settings.buildBatchSize), 2000);
      metrics.buildJobsScheduled.inc(jobs);
    } catch (error) {
      await container.configCache.releaseClaims(claimed, token).catch(() => undefined);
      container.logger.warn({ err: (error as Error).message }, 'could not enqueue a build job');
      throw new ServiceUnavailableError('redis');
    }
  }

  async function versionTwo(relay: AuthenticatedRelay, request: ConfigRequest, res: Response): Promise<void> {
    const { keys } = requestedKeys(request);
    const writer = new ResponseWriter();
    for (const c of (await computeNow(keys)).configs) writer.addConfig(c.publicKey, relay.internal ? c.json : restrictedJson(c.config, relay));
    // Version 2 has no `pending`: a key past the cap is left out, which Relay reads as disabled.
    sendJson(res, writer.finish());
  }

  async function versionOne(request: ConfigRequest, res: Response): Promise<void> {
    const projectIds = [...new Set((request.projects ?? []).map(Number))];
    const startedAt = await container.configCache.generation();
    const { projects, failures } = await computeConfigsByProject(container.orm.em.fork(), projectIds, computeOptions);
    await refreshCache([...projects.values()].flatMap((p) => p.keys), startedAt);
    reportConfigFailures(container, failures, 'request');
    const configs: Record<string, ProjectConfig> = {};
    for (const [projectId, { config }] of projects) if (config) configs[String(projectId)] = config;
    res.json({ configs });
  }

  return async (req: Request, res: Response): Promise<void> => {
    const relay = req.relay!;
    if (!relay.internal && !settings.relayAllowTrusted) {
      throw new RelayStringError('relay_unauthorized', 'Relay unauthorized for config information');
    }
    const query = req.query.version; // Express 5 parses the query string on every access
    const version = typeof query === 'string' ? query : query === undefined ? '1' : '';
    if (!['1', '2', '3'].includes(version)) {
      throw new RelayStringError('unsupported_version', 'Unsupported version, we only support versions 1 to 3.');
    }
    const request = parseRequest(req.relayBody ?? {});
    if (version === '3') return versionThree(relay, request, res);
    if (version === '2') return versionTwo(relay, request, res);
    if (!relay.internal) throw new RelayStringError('relay_unauthorized', 'Relay unauthorized for config information');
    return versionOne(request, res);
  };
}

function restrictedJson(config: ProjectConfig, relay: AuthenticatedRelay): string {
  const restricted = restrictConfig(config, relay.publicKey);
  return restricted.disabled ? DISABLED_JSON : JSON.stringify(restricted);
}

/** Writes a ready JSON body straight to the socket (Express's `send` would inspect it again). */
function sendJson(res: Response, body: Buffer): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}
