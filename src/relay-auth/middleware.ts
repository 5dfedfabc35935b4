import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { RelayKeyCache } from '../caches/relay-key-cache';
import { UnauthorizedError } from '../errors';
import type { InternalPolicy } from './internal-policy';
import { parseRelayPublicKey, verifyRelaySignature } from './keys';
import { UUID_RE } from '../formats';

/** The relay behind a verified request. */
export interface AuthenticatedRelay {
  relayId: string;
  publicKey: string;
  /** Decided for this request (whitelist, static internal, or internal caller address). */
  internal: boolean;
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

const fail = (detail: string) => new UnauthorizedError(detail);

/**
 * Verifies `X-Sentry-Relay-Signature` over the raw body (mount `express.raw` before it) and
 * attaches the relay and the parsed body. 401 bodies as Sentry sends them (PROTOCOL.md §2).
 */
export function relayAuth(deps: { relayKeys: RelayKeyCache; policy: InternalPolicy }): RequestHandler {
  const staticKeys = new Map<string, ReturnType<typeof parseRelayPublicKey>>();
  return async (req: Request, _res: Response, next: NextFunction) => {
    const relayId = req.get('x-sentry-relay-id');
    if (!relayId || !UUID_RE.test(relayId)) throw fail('Invalid relay ID');
    const signature = req.get('x-sentry-relay-signature');
    if (!signature) throw fail('Missing relay signature');

    const staticRelay = deps.policy.staticRelay(relayId);
    let publicKey: string;
    let key;
    if (staticRelay) {
      publicKey = staticRelay.publicKey;
      if (!staticKeys.has(relayId)) staticKeys.set(relayId, parseRelayPublicKey(publicKey));
      key = staticKeys.get(relayId);
    } else {
      const found = await deps.relayKeys.get(relayId);
      if (!found) throw fail('Unknown relay');
      publicKey = found.publicKey;
      key = found.key;
    }
    if (!key) throw fail('Unknown relay');

    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verified = verifyRelaySignature(key, body, signature, SIGNATURE_MAX_AGE_S);
    if (typeof verified === 'string') throw fail('Invalid relay signature');
    if (body.length > 0) {
      try {
        req.relayBody = JSON.parse(body.toString('utf8'));
      } catch {
        throw fail('Invalid relay signature');
      }
    }
    req.relay = {
      relayId,
      publicKey,
      internal: deps.policy.isInternalRequest(relayId, publicKey, req.ip),
      isStatic: staticRelay !== undefined,
    };
    next();
  };
}
