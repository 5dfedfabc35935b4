import type { Request, Response } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import { OrganizationAvatar } from '../db/entities';
import { NotFoundError } from '../errors';
import { UUID_RE } from '../formats';

/** `GET /organization-avatar/{uuid}/`: the image bytes. Public, as in Sentry: the UUID is the secret. */
export function serveAvatar(fork: () => EntityManager) {
  return async (req: Request, res: Response): Promise<void> => {
    const uuid = String(req.params.uuid ?? '').toLowerCase();
    const avatar = UUID_RE.test(uuid) ? await fork().findOne(OrganizationAvatar, { uuid }) : null;
    if (!avatar) throw new NotFoundError('Avatar not found');
    res
      .status(200)
      .set({ 'Content-Type': avatar.contentType, 'Cache-Control': 'public, max-age=31536000, immutable', 'X-Content-Type-Options': 'nosniff' })
      .end(Buffer.from(avatar.file));
  };
}
