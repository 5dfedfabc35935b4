import type { Request } from 'express';

/**
 * The scheme and host the client used (`TRUST_PROXY` decides whether `X-Forwarded-*` count), for
 * the absolute URLs in responses: DSNs, avatar URLs, pagination links.
 */
export function requestOrigin(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

/** Where an uploaded organization avatar is served (Sentry's path). */
export const AVATAR_PATH = '/organization-avatar';

export function avatarUrl(req: Request, uuid: string): string {
  return `${requestOrigin(req)}${AVATAR_PATH}/${uuid}/`;
}
