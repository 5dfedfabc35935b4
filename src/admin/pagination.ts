import type { Request, Response } from 'express';
import { BadRequestError } from '../errors';
import { absoluteUrl } from './urls';

/**
 * Sentry's offset pagination: `?cursor=<limit>:<page>:<is_prev>` in, and a `Link` header out
 * with a `previous` and a `next` link, each saying whether it has `results` (sentry-cli follows
 * `next` while `results="true"`).
 */

export const DEFAULT_PER_PAGE = 100;
export const MAX_PER_PAGE = 100;

const CURSOR_RE = /^(\d{1,6}):(-?\d{1,9}):([01])$/;

export interface PageRequest {
  limit: number;
  page: number;
  offset: number;
}

/** Reads `cursor` and `per_page`; 400 with Sentry's message when the cursor is malformed. */
export function pageRequest(req: Request): PageRequest {
  const perPageText = req.query.per_page;
  let limit = DEFAULT_PER_PAGE;
  if (perPageText !== undefined) {
    if (typeof perPageText !== 'string' || !/^\d{1,4}$/.test(perPageText) || Number(perPageText) < 1 || Number(perPageText) > MAX_PER_PAGE) {
      throw new BadRequestError(`Invalid per_page parameter: give a whole number from 1 to ${MAX_PER_PAGE}.`);
    }
    limit = Number(perPageText);
  }
  const cursor = req.query.cursor;
  if (cursor === undefined || cursor === '') return { limit, page: 0, offset: 0 };
  const match = typeof cursor === 'string' ? CURSOR_RE.exec(cursor) : null;
  if (!match || Number(match[2]) < 0) throw new BadRequestError('Invalid cursor parameter.');
  const value = Number(match[1]);
  const page = Number(match[2]);
  return { limit, page, offset: page * (value || limit) };
}

function linkFor(req: Request, cursor: string, rel: 'previous' | 'next', results: boolean): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(req.query)) {
    if (key !== 'cursor' && typeof value === 'string') params.append(key, value);
  }
  params.append('cursor', cursor);
  const url = absoluteUrl(req, `${req.baseUrl}${req.path}?${params.toString().replace(/%3A/g, ':')}`);
  return `<${url}>; rel="${rel}"; results="${results}"; cursor="${cursor}"`;
}

/**
 * Fetches one page (asking for one row more than the page holds, to know whether a next page
 * exists), sets the `Link` header and returns the page's rows.
 */
export async function paginate<T>(req: Request, res: Response, fetch: (offset: number, limit: number) => Promise<T[]>): Promise<T[]> {
  const { limit, page, offset } = pageRequest(req);
  const rows = await fetch(offset, limit + 1);
  const hasNext = rows.length > limit;
  res.set(
    'Link',
    [linkFor(req, `${limit}:${page - 1}:1`, 'previous', page > 0), linkFor(req, `${limit}:${page + 1}:0`, 'next', hasNext)].join(', '),
  );
  return rows.slice(0, limit);
}
