import type { Request } from 'express';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';

/**
 * Why a Relay endpoint refused a caller, for the operator (the response bodies stay Sentry's, so
 * a Relay sees no more than before): each refusal is counted by reason and logged, at most once
 * per reason and relay every `quietMs` so a misconfigured Relay polling 10 times a second does not
 * flood the log.
 */
export type RefusalReason =
  | 'invalid_relay_id'
  | 'missing_signature'
  | 'unknown_relay'
  | 'not_allowed_to_register'
  | 'signature_too_old'
  | 'bad_signature'
  | 'token_expired'
  | 'key_mismatch'
  | 'not_internal';

const HINTS: Record<RefusalReason, string> = {
  invalid_relay_id: 'the X-Sentry-Relay-Id header is missing or not a UUID',
  missing_signature: 'the request carries no X-Sentry-Relay-Signature',
  unknown_relay: 'the relay id is neither registered nor in RELAY_STATIC_AUTH (it registers again within 10 minutes, or was removed)',
  not_allowed_to_register: 'RELAY_OPEN_REGISTRATION=false and the relay is not internal: trust its key (`relays trust`) or add it to RELAY_STATIC_AUTH',
  signature_too_old: "the signature's timestamp is older than allowed: check the relay host's clock",
  bad_signature: 'the signature does not verify with the registered key, or the body is not JSON',
  token_expired: 'the registration challenge is older than 60 s',
  key_mismatch: 'the relay id is registered with another public key: `relays remove RELAY_ID` lets it register with the new one',
  not_internal: 'the relay is not internal: trust its key (`relays trust PUBLIC_KEY`), or set RELAY_WHITELIST_PK / RELAY_STATIC_AUTH / INTERNAL_SYSTEM_IPS',
};

export interface RelayRefusals {
  report(req: Request, endpoint: 'register' | 'projectconfigs' | 'publickeys', reason: RefusalReason, relayId?: string): void;
}

export function createRelayRefusals(deps: { counter: Counter<'reason' | 'endpoint'>; logger: Logger }, quietMs = 60_000): RelayRefusals {
  const lastLogged = new Map<string, number>();
  return {
    report(req, endpoint, reason, relayId = req.get('x-sentry-relay-id') ?? undefined) {
      deps.counter.inc({ reason, endpoint });
      const key = `${reason}:${relayId ?? ''}`;
      const now = Date.now();
      if ((lastLogged.get(key) ?? 0) > now - quietMs) return;
      if (lastLogged.size >= 10_000) lastLogged.clear();
      lastLogged.set(key, now);
      deps.logger.warn({ reason, endpoint, relayId: relayId?.slice(0, 64), clientIp: req.ip, hint: HINTS[reason] }, `relay refused: ${reason}`);
    },
  };
}
