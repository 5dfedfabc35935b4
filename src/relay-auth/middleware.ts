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

/**
 * Verifies `X-Sentry-Relay-Signature` over the raw body (mount `express.raw` before it) and
 * attaches the relay and the parsed body. 401 bodies as Sentry sends them (PROTOCOL.md §2); the
 * operator sees the reason in the log and in `relay_auth_refusals_total`.
 */
export function relayAuth(deps: RelayAuthDeps, endpoint: 'projectconfigs' | 'publickeys'): RequestHandler {
  const staticKeys = new Map<string, ReturnType<typeof parseRelayPublicKey>>();
  return async (req: Request, _res: Response, next: NextFunction) => {
    const fail = (detail: string, reason: RefusalReason) => {
      deps.refusals.report(req, endpoint, reason);
      return new UnauthorizedError(detail);
    };
    const relayId = req.get('x-sentry-relay-id');
    if (!relayId || !UUID_RE.test(relayId)) throw fail('Invalid relay ID', 'invalid_relay_id');
    const signature = req.get('x-sentry-relay-signature');
    if (!signature) throw fail('Missing relay signature', 'missing_signature');

    const staticRelay = deps.policy.staticRelay(relayId);
    let publicKey: string;
    let key;
    if (staticRelay) {
      publicKey = staticRelay.publicKey;
      if (!staticKeys.has(relayId)) staticKeys.set(relayId, parseRelayPublicKey(publicKey));
      key = staticKeys.get(relayId);
    } else {
      const found = await deps.relayKeys.get(relayId);
      if (!found) throw fail('Unknown relay', 'unknown_relay');
      publicKey = found.publicKey;
      key = found.key;
    }
    if (!key) throw fail('Unknown relay', 'unknown_relay');

    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verified = verifyRelaySignature(key, body, signature, SIGNATURE_MAX_AGE_S);
    if (typeof verified === 'string') throw fail('Invalid relay signature', verified === 'expired' ? 'signature_too_old' : 'bad_signature');
    if (body.length > 0) {
      try {
        req.relayBody = JSON.parse(body.toString('utf8'));
      } catch {
        throw fail('Invalid relay signature', 'bad_signature');
      }
    }
    const internalBy = deps.policy.classify(relayId, publicKey, req.ip, await deps.trustedKeys.current());
    req.relay = { relayId, publicKey, internal: internalBy !== null, internalBy, isStatic: staticRelay !== undefined };
    next();
  };
}
