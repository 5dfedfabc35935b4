import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { Container } from '../../container';
import { Relay } from '../../db/entities';
import { BadRequestError, RelayRegistrationError, TooManyRequestsError, ValidationError } from '../../errors';
import { parseRelayPublicKey, verifyRelaySignature } from '../../relay-auth/keys';
import { UUID_RE } from '../../formats';
import { relayAuth, type RelayAuthDeps, type RelayAuthenticator } from '../../relay-auth/middleware';
import type { RefusalReason } from '../../relay-auth/refusals';
import { createRegistrationToken, verifyRegistrationToken } from '../../relay-auth/registration-token';
import type { ProjectConfigService } from '../../services/project-configs';
import { recordRelayRegistration } from '../../services/relays';
import { preAuthenticated, rawBody } from '../raw-body';
import { projectConfigsHandler } from './project-configs';

/**
 * The endpoints a Relay calls under `/api/0/relays/` (PROTOCOL.md §2). Registration sits outside
 * the signature middleware: the relay is not known yet, so each step verifies its own signature.
 */

/** Max age of the self-signed challenge request and of the challenge token. */
const REGISTRATION_MAX_AGE_S = 60;
/** Relay sends at most 500 keys; 1 MiB is far above any genuine request. */
export const RAW_BODY_LIMIT = 1024 * 1024;

const invalid = (text: string) => new RelayRegistrationError('relay_registration_invalid', text);

/** The length of `relay_usage.version` (Sentry's column too). */
const VERSION_MAX_LENGTH = 32;

const versionField = z
  .string({ error: 'This field is required.' })
  .max(VERSION_MAX_LENGTH, `Ensure this field has no more than ${VERSION_MAX_LENGTH} characters.`)
  .regex(/^\d+\.\d+\.\d+([-.+][0-9A-Za-z.+-]*)?$/, 'Not a valid Relay version.');
const challengeSchema = z.object({
  relay_id: z.string({ error: 'This field is required.' }).regex(UUID_RE, 'Must be a valid UUID.'),
  public_key: z.string({ error: 'This field is required.' }).min(1, 'This field may not be blank.'),
  version: versionField,
});
const responseSchema = z.object({
  relay_id: z.string({ error: 'This field is required.' }).regex(UUID_RE, 'Must be a valid UUID.'),
  token: z.string({ error: 'This field is required.' }).min(1, 'This field may not be blank.'),
  version: versionField,
});

/** JSON first, then the fields (DRF-style `{field: [messages]}`), as Sentry checks them. */
function parseRegistrationBody<T>(req: Request, schema: z.ZodType<T>): T {
  let body: unknown;
  try {
    body = JSON.parse((req.body as Buffer | undefined)?.toString('utf8') ?? '');
  } catch {
    throw invalid('No valid json body');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('No valid json body');
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const fields: Record<string, string[]> = {};
    for (const issue of parsed.error.issues) (fields[String(issue.path[0] ?? 'non_field_errors')] ??= []).push(issue.message);
    throw new ValidationError(fields, 'Invalid registration request');
  }
  return parsed.data;
}

/** What the signature middleware needs from the container. */
export function relayAuthDeps(container: Container): RelayAuthDeps {
  return {
    relayKeys: container.relayKeys,
    trustedKeys: container.trustedKeys,
    policy: container.internalPolicy,
    refusals: container.relayRefusals,
  };
}

export function relaysRouter(container: Container): Router {
  const { settings, internalPolicy: policy } = container;
  const router = Router();
  const raw = rawBody(RAW_BODY_LIMIT);
  /** A registration refusal the operator should hear about (the Relay gets Sentry's body). */
  const refused = <E extends Error>(req: Request, reason: RefusalReason, error: E): E => {
    container.relayRefusals.report(req, 'register', reason);
    return error;
  };
  const differentKey = (req: Request) => refused(req, 'key_mismatch', invalid('Attempted to register agent with a different public key'));

  // Before anything is read: a flood is refused at the cost of one Redis script per request.
  router.use('/register', async (req: Request, _res: Response, next) => {
    const retryAfterS = await container.registrationRateLimit.hit(req.ip);
    if (retryAfterS !== null) throw new TooManyRequestsError(retryAfterS);
    next();
  });

  router.post('/register/challenge/', raw, async (req: Request, res: Response) => {
    const body = parseRegistrationBody(req, challengeSchema);
    const publicKey = body.public_key;
    const isStatic = policy.staticRelay(body.relay_id) !== undefined;
    if (!settings.relayOpenRegistration && !isStatic && !policy.isInternalRequest(body.relay_id, publicKey, req.ip, await container.trustedKeys.current())) {
      throw refused(req, 'not_allowed_to_register', new RelayRegistrationError('relay_registration_refused', 'Relay is not allowed to register'));
    }
    const signature = req.get('x-sentry-relay-signature');
    if (!signature) throw invalid('Missing relay signature');
    const key = parseRelayPublicKey(publicKey);
    if (!key) throw invalid('Invalid public key');
    const verified = verifyRelaySignature(key, req.body as Buffer, signature, REGISTRATION_MAX_AGE_S);
    if (typeof verified === 'string') {
      throw refused(req, verified === 'expired' ? 'signature_too_old' : 'bad_signature', invalid(verified === 'expired' ? 'Signature expired' : 'Invalid relay signature'));
    }
    if (body.relay_id !== req.get('x-sentry-relay-id')) throw invalid('relay_id in payload did not match header');
    const knownKey = policy.staticRelay(body.relay_id)?.publicKey ?? (await container.orm.em.fork().findOne(Relay, { relayId: body.relay_id }))?.publicKey;
    if (knownKey !== undefined && knownKey !== publicKey) throw differentKey(req);
    res.json({ relay_id: body.relay_id, token: createRegistrationToken(await container.systemSecret(), body.relay_id, publicKey) });
  });

  router.post('/register/response/', raw, async (req: Request, res: Response) => {
    const body = parseRegistrationBody(req, responseSchema);
    const signature = req.get('x-sentry-relay-signature');
    if (!signature) throw invalid('Missing relay signature');
    const token = verifyRegistrationToken(body.token, await container.systemSecret(), REGISTRATION_MAX_AGE_S);
    if (token === 'expired') throw refused(req, 'token_expired', new RelayRegistrationError('relay_challenge_expired', 'Challenge expired'));
    if (token === 'invalid') throw invalid('Invalid registration token');
    const key = parseRelayPublicKey(token.publicKey);
    const verified = key ? verifyRelaySignature(key, req.body as Buffer, signature, REGISTRATION_MAX_AGE_S) : 'malformed';
    if (typeof verified === 'string') throw refused(req, 'bad_signature', invalid('Invalid relay signature'));
    if (token.relayId !== body.relay_id || body.relay_id !== req.get('x-sentry-relay-id')) throw invalid('relay_id in payload did not match header');
    const staticRelay = policy.staticRelay(body.relay_id);
    if (staticRelay) {
      if (staticRelay.publicKey !== token.publicKey) throw differentKey(req);
    } else {
      // A token issued before the relay registered (with another key) must not re-key it.
      const outcome = await recordRelayRegistration(container, { relayId: body.relay_id, publicKey: token.publicKey, version: body.version });
      if (outcome === 'different-public-key') throw differentKey(req);
    }
    res.json({ relay_id: body.relay_id });
  });

  router.get('/live/', (_req, res) => {
    res.json({ is_healthy: true });
  });

  const authenticated = [raw, relayAuth(relayAuthDeps(container), 'publickeys')];

  router.post('/publickeys/', ...authenticated, async (req: Request, res: Response) => {
    const relayIds = (req.relayBody as { relay_ids?: unknown } | undefined)?.relay_ids;
    if (!Array.isArray(relayIds) || relayIds.some((id) => typeof id !== 'string') || relayIds.length > 1000) {
      throw new BadRequestError('relay_ids must be a list of at most 1000 relay ids');
    }
    const relays: Record<string, { publicKey: string; internal: boolean } | null> = {};
    const publicKeys: Record<string, string | null> = {};
    const trusted = await container.trustedKeys.current();
    for (const relayId of new Set(relayIds as string[])) {
      const found = policy.staticRelay(relayId)?.publicKey ?? (UUID_RE.test(relayId) ? (await container.relayKeys.get(relayId))?.publicKey : undefined);
      relays[relayId] = found ? { publicKey: found, internal: policy.isInternalRelay(relayId, found, trusted) } : null;
      publicKeys[relayId] = found ?? null;
    }
    res.json({ relays, public_keys: publicKeys });
  });

  return router;
}

/**
 * The handlers of `POST /api/0/relays/projectconfigs/`, mounted by the app directly (ahead of
 * everything else): it is the hot path, and a nested router only adds work per request.
 */
export function projectConfigsRoute(container: Container, lanes: { service: ProjectConfigService; authenticate: RelayAuthenticator }): RequestHandler[] {
  return [rawBody(RAW_BODY_LIMIT), relayAuth(relayAuthDeps(container), 'projectconfigs', lanes.authenticate, preAuthenticated), projectConfigsHandler(container, lanes.service)];
}
