import type { ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Container } from '../../container';
import { BadRequestError, RelayStringError } from '../../errors';
import { PUBLIC_KEY_RE } from '../../services/keys';
import type { ConfigRelay, ConfigReply, ProjectConfigService } from '../../services/project-configs';

/**
 * `POST /api/0/relays/projectconfigs/?version=N` (PROTOCOL.md §4): reads the version and the
 * body, and writes what services/project-configs.ts answers (the cache lookups, build
 * scheduling and synchronous computes live there).
 */

const MAX_KEYS = 500;

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

const isJsonObject = (body: unknown): body is Record<string, unknown> => body !== null && typeof body === 'object' && !Array.isArray(body);

/** The body when it has the shape Relay actually sends (checked directly), else null: the schema decides then. */
export function commonRequest(body: unknown): ConfigRequest | null {
  return isJsonObject(body) && isCommonRequest(body) ? body : null;
}

function isCommonRequest(body: Record<string, unknown>): body is ConfigRequest {
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
  if (!isJsonObject(body)) throw new BadRequestError('The request body must be a JSON object');
  if (isCommonRequest(body)) return body;
  const parsed = requestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
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

export function projectConfigsHandler(container: Container, service: ProjectConfigService) {
  return async (req: Request, res: Response): Promise<void> => {
    const relay = req.relay!;
    container.relayActivity.noteConfigFetch(relay.relayId, relay.internalBy);
    try {
      service.authorize(relay);
    } catch (error) {
      container.relayRefusals.report(req, 'projectconfigs', 'not_internal', relay.relayId);
      throw error;
    }
    const query = req.query.version; // Express 5 parses the query string on every access
    const version = typeof query === 'string' ? query : query === undefined ? '1' : '';
    if (!['1', '2', '3'].includes(version)) throw new RelayStringError('unsupported_version', 'Unsupported version, we only support versions 1 to 3.');
    const request = parseRequest(req.relayBody ?? {});
    if (version === '3') {
      await answerVersionThree(service, relay, request, req.headers['accept-encoding'], res);
    } else if (version === '2') {
      sendJson(res, await service.versionTwo(relay, requestedKeys(request).keys));
    } else {
      if (!relay.internal) container.relayRefusals.report(req, 'projectconfigs', 'not_internal', relay.relayId);
      res.json(await service.versionOne(relay, [...new Set((request.projects ?? []).map(Number))]));
    }
  };
}

/** Version 3's answer to a parsed request (the Express route and the config poll lane). */
export async function answerVersionThree(service: ProjectConfigService, relay: ConfigRelay, request: ConfigRequest, acceptEncoding: string | string[] | undefined, res: ServerResponse): Promise<void> {
  const { keys, revisions } = requestedKeys(request);
  const acceptsGzip = acceptsGzipEncoding(acceptEncoding);
  sendJson(res, await service.versionThree(relay, { keys, revisions, noCache: request.noCache === true, global: request.global === true, acceptsGzip }));
}

/** Whether an `Accept-Encoding` header takes gzip (`gzip`, `x-gzip` or `*`, with a q-value above 0). */
export function acceptsGzipEncoding(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  for (const entry of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [coding, ...params] = entry.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/**
 * How long a v3 reply holding reply-budget bytes may take to be written before its connection is
 * closed: a client that stopped reading (a vanished host keeps a socket open for many minutes)
 * would otherwise pin its bytes and the budget, and every later reply would be held back. Relay
 * gave up on the request long before (its upstream timeout is seconds).
 */
export const REPLY_WRITE_TIMEOUT_MS = 30_000;

/**
 * Writes a ready JSON body straight to the socket (Express's `send` would inspect it again): its
 * chunks as they are, which Node's HTTP layer gathers (the socket is corked until the next tick)
 * into one `writev`, so the stored config buffers are never copied into one body first.
 */
export function sendJson(res: ServerResponse, reply: ConfigReply, writeTimeoutMs = REPLY_WRITE_TIMEOUT_MS): void {
  const { release } = reply;
  // The client left while the reply was made: its 'close' has been emitted already.
  if (res.destroyed || res.socket?.destroyed === true) {
    release?.();
    return;
  }
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': reply.length, vary: 'Accept-Encoding' };
  if (reply.gzip) headers['content-encoding'] = 'gzip';
  if (release) {
    const stalled = setTimeout(() => res.destroy(), writeTimeoutMs);
    // 'close' follows 'finish' (every byte handed to the socket) and an aborted or destroyed response alike.
    res.once('close', () => {
      clearTimeout(stalled);
      release();
    });
  }
  res.writeHead(200, headers);
  const last = reply.chunks.length - 1;
  for (let i = 0; i < last; i++) res.write(reply.chunks[i]);
  res.end(last >= 0 ? reply.chunks[last] : undefined);
}
