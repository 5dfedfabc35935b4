import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';
import type { RelayAuthenticator } from '../relay-auth/middleware';
import type { RelayActivity } from '../caches/relay-activity';
import type { ProjectConfigService } from '../services/project-configs';
import { errorResponse } from './error-handler';
import { setPreReadBody } from './raw-body';
import { recordRequest } from './request-metrics';
import { answerVersionThree, commonRequest } from './routes/project-configs';

/** The route label of the config endpoint (the same as Express's `req.route` gives it). */
const ROUTE = '/api/0/relays/projectconfigs/';
/** What Relay asks in steady state, to the byte. */
const POLL_URL = `${ROUTE}?version=3`;

export interface ConfigPollLaneDeps {
  service: ProjectConfigService;
  authenticate: RelayAuthenticator;
  relayActivity: Pick<RelayActivity, 'noteConfigFetch'>;
  metrics: Pick<Metrics, 'httpRequests' | 'httpRequestDuration' | 'configPollLane'>;
  logger: Logger;
  /** The body size the Relay routes take (larger declared bodies go to Express, which refuses them). */
  bodyLimit: number;
  /** The client address as Express's `req.ip` gives it (the same `trust proxy` setting). */
  clientIp(req: IncomingMessage): string | undefined;
}

/**
 * Relay's steady state — a signed version 3 poll from an internal relay, its body declared by
 * `Content-Length` and sent as it is — answered without Express. Express's routing and its
 * request and response set-up cost about as much CPU per poll as everything else the answer
 * takes beyond the floor (the benchmark's "floor in Express"), and Relay polls many times a
 * second. Only the successful answer is given here, by the same service, signature check,
 * metrics and error catalogue as the Express route. Every other request — another version,
 * method or encoding, a body the signature check or the common shape check refuses, a relay
 * that is not internal — goes to Express with the body and the signature check's outcome, and is
 * answered there exactly as before (refusals are reported there, once).
 */
export function configPollLane(deps: ConfigPollLaneDeps, express: RequestListener): RequestListener {
  return (req, res) => {
    if (req.method !== 'POST' || req.url !== POLL_URL || !plainBodyWithin(req, deps.bodyLimit)) {
      express(req, res);
      return;
    }
    const startedAt = process.hrtime.bigint();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => void answer(deps, express, req, res, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), startedAt));
    // A request that breaks off has no one left to answer.
    req.on('error', () => res.destroy());
  };
}

/** A body of declared length within the limit, without a content or transfer encoding. */
function plainBodyWithin(req: IncomingMessage, limit: number): boolean {
  const { 'content-length': length, 'content-encoding': encoding, 'transfer-encoding': transfer } = req.headers;
  return length !== undefined && Number(length) <= limit && transfer === undefined && (encoding === undefined || encoding.toLowerCase() === 'identity');
}

async function answer(deps: ConfigPollLaneDeps, express: RequestListener, req: IncomingMessage, res: ServerResponse, body: Buffer, startedAt: bigint): Promise<void> {
  const relayId = req.headers['x-sentry-relay-id'];
  const signature = req.headers['x-sentry-relay-signature'];
  let outcome: Awaited<ReturnType<RelayAuthenticator>>;
  try {
    outcome = await deps.authenticate({ relayId: typeof relayId === 'string' ? relayId : undefined, signature: typeof signature === 'string' ? signature : undefined, body, ip: deps.clientIp(req) });
  } catch {
    // e.g. Redis unavailable: Express checks again and answers it as every other route does.
    deps.metrics.configPollLane.inc({ outcome: 'handed_over' });
    setPreReadBody(req, body, startedAt);
    express(req, res);
    return;
  }
  const handOver = () => {
    deps.metrics.configPollLane.inc({ outcome: 'handed_over' });
    setPreReadBody(req, body, startedAt, outcome);
    express(req, res);
  };
  if ('reason' in outcome || !outcome.relay.internal) return handOver();
  const request = commonRequest(outcome.body);
  if (!request) return handOver();
  const { relay } = outcome;
  deps.metrics.configPollLane.inc({ outcome: 'answered' });
  deps.relayActivity.noteConfigFetch(relay.relayId, relay.internalBy);
  res.once('finish', () => recordRequest(deps.metrics, ROUTE, 'POST', res.statusCode, startedAt));
  try {
    await answerVersionThree(deps.service, relay, request, req.headers['accept-encoding'], res);
  } catch (error) {
    if (res.headersSent) {
      deps.logger.error({ err: error, path: ROUTE }, 'error after the response started');
      res.destroy();
      return;
    }
    const { status, headers, body: errorBody } = errorResponse(error, deps.logger, { method: 'POST', path: ROUTE });
    const text = JSON.stringify(errorBody);
    res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
  }
}
