import type { Router } from 'express';
import { NotFoundError } from '../errors';
import { authOf, SCOPES } from './auth';
import type { AdminDeps } from './deps';
import { serializeUser } from './serializers';

/** What sentry-cli asks before anything else: who the token belongs to, and where its data lives. */
export function registerIndexRoutes(api: Router, { authed }: AdminDeps): void {
  // `sentry-cli info`: the token's user and scopes.
  api.get('/', ...authed, (req, res) => {
    const auth = authOf(req);
    res.json({
      version: '0',
      auth: { scopes: SCOPES.filter((s) => auth.scopes.has(s)) },
      user: serializeUser(auth.user),
    });
  });

  // One region only: sentry-cli then keeps using SENTRY_URL for everything.
  api.get('/users/me/regions/', ...authed, () => {
    throw new NotFoundError('This server has a single region; use its URL.');
  });
}
