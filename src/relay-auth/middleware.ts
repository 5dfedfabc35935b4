import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { RelayKeyCache } from '../caches/relay-key-cache';
import type { TrustedRelayKeyCache } from '../caches/trusted-relay-key-cache';
import { UnauthorizedError } from '../errors';
import type { InternalPolicy, InternalReason } from './internal-policy';
import type { RefusalReason, RelayRefusals } from './refusals';
import { parseRelayPublicKey, verifyRelaySignature } from './keys';
import { UUID_RE } from '../formats';

/** The relay behind a verified request. */
export interface AuthenticatedRelay {
  relayId: string;
  publicKey: string;
  /** Decided for this request (whitelist, trusted list, static internal, or internal caller address). */
  internal: boolean;
  /** Which rule made it internal (null: none). */
  internalBy: InternalReason | null;
  isStatic: boolean;
}

declare module 'express-serve-static-core' {
  interface Request {
    relay?: AuthenticatedRelay;
    /** The JSON body of a signed request, parsed only after the signature checked out. */
    relayBody?: unknown;
  }
}

/** Max age of ordinary signed calls. */
export const SIGNATURE_MAX_AGE_S = 300;

export interface RelayAuthDeps {
  relayKeys: RelayKeyCache;
  trustedKeys: TrustedRelayKeyCache;
  policy: InternalPolicy;
  refusals: RelayRefusals;
}

/** Why a signed request was refused: the 401 detail Sentry sends, and the reason the operator sees. */
export interface RelayAuthRefusal {
  detail: string;
  reason: RefusalReason;
}

/** What a signed request carries, however it arrived. */
export interface SignedRequest {
  relayId: string | undefined;
  signature: string | undefined;
  body: Buffer;
  /** The client address (Express's `req.ip`, under the `trust proxy` setting); undefined when not known. */
  ip: string | undefined;
}

/** The relay and the parsed body of a verified request, or why it is refused. */
export type AuthOutcome = { relay: AuthenticatedRelay; body: unknown } | RelayAuthRefusal;

/** Verifies a signed request. */
export type RelayAuthenticator = (request: SignedRequest) => Promise<AuthOutcome>;

export function relayAuthenticator(deps: Pick<RelayAuthDeps, 'relayKeys' | 'trustedKeys' | 'policy'>): RelayAuthenticator {
  const staticKeys = new Map<string, ReturnType<typeof parseRelayPublicKey>>();
  return async ({ relayId, signature, body, ip }: SignedRequest) => {
    if (!relayId || !UUID_RE.test(relayId)) return { detail: 'Invalid relay ID', reason: 'invalid_relay_id' };
    if (!signature) return { detail: 'Missing relay signature', reason: 'missing_signature' };

    const staticRelay = deps.policy.staticRelay(relayId);
    let publicKey: string;
    let key;
    if (staticRelay) {
      publicKey = staticRelay.publicKey;
      if (!staticKeys.has(relayId)) staticKeys.set(relayId, parseRelayPublicKey(publicKey));
      key = staticKeys.get(relayId);
    } else {
      const found = await deps.relayKeys.get(relayId);
      if (!found) return { detail: 'Unknown relay', reason: 'unknown_relay' };
      publicKey = found.publicKey;
      key = found.key;
    }
    if (!key) return { detail: 'Unknown relay', reason: 'unknown_relay' };

    const verified = verifyRelaySignature(key, body, signature, SIGNATURE_MAX_AGE_S);
    if (typeof verified === 'string') return { detail: 'Invalid relay signature', reason: verified === 'expired' ? 'signature_too_old' : 'bad_signature' };
    let parsed: unknown;
    if (body.length > 0) {
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return { detail: 'Invalid relay signature', reason: 'bad_signature' };
      }
    }
    const internalBy = deps.policy.classify(relayId, publicKey, ip, await deps.trustedKeys.current());
    return { relay: { relayId, publicKey, internal: internalBy !== null, internalBy, isStatic: staticRelay !== undefined }, body: parsed };
  };
}

/**
 * Verifies `X-Sentry-Relay-Signature` over the raw body (mount `express.raw` before it) and
 * attaches the relay and the parsed body. 401 bodies as Sentry sends them (PROTOCOL.md §2); the
 * operator sees the reason in the log and in `relay_auth_refusals_total`.
 */
export function relayAuth(
  deps: RelayAuthDeps,
  endpoint: 'projectconfigs' | 'publickeys',
  authenticate: RelayAuthenticator = relayAuthenticator(deps),
  /** The outcome of a check made before the request reached Express, if any (the config poll lane). */
  checkedBefore: (req: Request) => AuthOutcome | undefined = () => undefined,
): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const outcome = checkedBefore(req) ?? await authenticate({
      relayId: req.get('x-sentry-relay-id'),
      signature: req.get('x-sentry-relay-signature'),
      body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      ip: req.ip,
    });
    if ('reason' in outcome) {
      deps.refusals.report(req, endpoint, outcome.reason);
      throw new UnauthorizedError(outcome.detail);
    }
    if (outcome.body !== undefined) req.relayBody = outcome.body;
    req.relay = outcome.relay;
    next();
  };
}
