import type { Express, Request } from 'express';

/**
 * Absolute URLs in responses (DSNs, avatar URLs, pagination links) start with the configured
 * `SYSTEM_URL_PREFIX`, as Sentry's start with `system.url-prefix`: never with the client's
 * `Host`, which any client can set to anything (and which would then reach other users' DSNs).
 */

const PREFIX_KEY = 'systemUrlPrefix';

/** Makes `prefix` the base of every absolute URL the app's responses carry. */
export function setSystemUrlPrefix(app: Express, prefix: string): void {
  app.locals[PREFIX_KEY] = prefix;
}

/** The public base URL, without a trailing slash. */
export function systemUrlPrefix(req: Request): string {
  const prefix: unknown = req.app.locals[PREFIX_KEY];
  if (typeof prefix !== 'string') throw new Error('setSystemUrlPrefix was not called on the app');
  return prefix;
}

/** `path` (starting with `/`) as an absolute public URL. */
export function absoluteUrl(req: Request, path: string): string {
  return `${systemUrlPrefix(req)}${path}`;
}

/** Where an uploaded organization avatar is served (Sentry's path). */
export const AVATAR_PATH = '/organization-avatar';

export function avatarUrl(req: Request, uuid: string): string {
  return absoluteUrl(req, `${AVATAR_PATH}/${uuid}/`);
}
