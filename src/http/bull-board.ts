import { timingSafeEqual } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import type { Container } from '../container';
import { UnauthorizedError } from '../errors';

export const BULL_BOARD_PATH = '/admin/queues';

const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** HTTP Basic with `BULL_BOARD_USER`/`BULL_BOARD_PASSWORD`; with either unset, everyone is refused. */
export function bullBoardAuth(user: string, password: string): RequestHandler {
  const challenge = { 'WWW-Authenticate': 'Basic realm="bull-board", charset="UTF-8"' };
  return (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    const decoded = match ? Buffer.from(match[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const ok = user !== '' && password !== '' && colon > 0 && sameText(decoded.slice(0, colon), user) && sameText(decoded.slice(colon + 1), password);
    if (!ok) throw new UnauthorizedError('Authentication required for the queue dashboard', challenge);
    next();
  };
}

/**
 * Bull Board over every queue, read-only unless `BULL_BOARD_READ_ONLY=false`. Loaded on the first
 * authenticated request, not at start: the Relay-facing process rarely serves it, and its modules
 * would stay in every API process's heap (each full GC marks them again).
 */
export function bullBoardRouter(container: Container): Router {
  const { settings } = container;
  let board: Promise<RequestHandler> | null = null;
  const router = Router();
  router.use(bullBoardAuth(settings.bullBoardUser, settings.bullBoardPassword), (req, res, next) => {
    board ??= createBoard(container).catch((error: unknown) => {
      board = null; // the next request tries again
      throw error;
    });
    board.then((handler) => handler(req, res, next), next);
  });
  return router;
}

async function createBoard(container: Container): Promise<RequestHandler> {
  const [{ createBullBoard }, { BullMQAdapter }, { ExpressAdapter }] = await Promise.all([import('@bull-board/api'), import('@bull-board/api/bullMQAdapter'), import('@bull-board/express')]);
  const { settings } = container;
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  const options = { readOnlyMode: settings.bullBoardReadOnly, allowRetries: !settings.bullBoardReadOnly };
  createBullBoard({
    queues: Object.values(container.queues).map((queue) => new BullMQAdapter(queue, options)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Relay configs' } },
  });
  return serverAdapter.getRouter() as RequestHandler;
}
