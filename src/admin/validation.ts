import type { Request } from 'express';
import { BadRequestError, UnsupportedMediaTypeError, ValidationError } from '../errors';
import { isPlainObject } from '../formats';

/**
 * Request bodies and paths of the management API: the JSON object a request carries, refused
 * early when PostgreSQL could not store it. Checking its fields is the services' job
 * (services/validation.ts).
 */

/** Deeper bodies are refused: no genuine request nests this far, and every later walk stays shallow. */
export const MAX_BODY_DEPTH = 64;

const NUL_MESSAGE = 'Text in the request body may not contain NUL (\\u0000) characters';
const SURROGATE_MESSAGE = 'Text may not contain an unpaired UTF-16 surrogate (such as "\\ud800"); send valid Unicode.';
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Refuses what PostgreSQL cannot store or what would make later checks recurse without bound:
 * nesting beyond `MAX_BODY_DEPTH` (400), NUL characters (400; neither text nor jsonb holds them)
 * and unpaired surrogates (a field error: jsonb rejects `\ud800`). Walks with an explicit
 * stack, so a body nested 100,000 levels deep costs a loop, not the call stack.
 */
function checkBodyText(body: Record<string, unknown>): void {
  // Each entry links to its parent, so the path to a bad value is built only when one is found.
  interface Entry {
    value: unknown;
    depth: number;
    key: string;
    parent: Entry | null;
  }
  const surrogate = (entry: Entry, keyItself: boolean): never => {
    const path: string[] = [];
    for (let at: Entry | null = entry; at?.parent; at = at.parent) path.unshift(at.key);
    if (keyItself) path.pop();
    const [field, ...rest] = path;
    const where = rest.length > 0 ? `${rest.join('.')}: ` : '';
    const what = keyItself ? (field === undefined ? 'A field name: ' : 'A key: ') : '';
    throw new ValidationError({ [field ?? 'non_field_errors']: [`${where}${what}${SURROGATE_MESSAGE}`] });
  };
  const stack: Entry[] = [{ value: body, depth: 1, key: '', parent: null }];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const { value, depth } = entry;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) throw new BadRequestError(NUL_MESSAGE);
      if (LONE_SURROGATE_RE.test(value)) surrogate(entry, false);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_BODY_DEPTH) throw new BadRequestError(`The request body is nested too deeply: at most ${MAX_BODY_DEPTH} levels of objects and lists.`);
    if (Array.isArray(value)) {
      value.forEach((element, index) => stack.push({ value: element, depth: depth + 1, key: String(index), parent: entry }));
      continue;
    }
    for (const [key, element] of Object.entries(value)) {
      const child: Entry = { value: element, depth: depth + 1, key, parent: entry };
      if (key.includes('\u0000')) throw new BadRequestError(NUL_MESSAGE);
      if (LONE_SURROGATE_RE.test(key)) surrogate(child, true);
      stack.push(child);
    }
  }
}

/**
 * The JSON object a request carries; `{}` when it carries no body at all. Text PostgreSQL cannot
 * store and over-deep nesting are refused here, before any handler looks at the body.
 */
export function jsonBody(req: Request): Record<string, unknown> {
  if (req.body === undefined) {
    const length = Number(req.get('content-length') ?? '0');
    if (length > 0 || req.get('transfer-encoding') !== undefined) throw new UnsupportedMediaTypeError();
    return {};
  }
  if (!isPlainObject(req.body)) throw new BadRequestError('The request body must be a JSON object');
  checkBodyText(req.body);
  return req.body;
}

/** A path id, or null when it is not one (the caller answers 404). */
export function parseId(text: string): number | null {
  return /^[1-9][0-9]{0,9}$/.test(text) && Number(text) <= 2_147_483_647 ? Number(text) : null;
}

/** A named path segment; `''` (which names nothing, so 404) when absent or holding a NUL character. */
export function pathParam(req: Request, name: string): string {
  const value = req.params[name];
  return typeof value === 'string' && !value.includes('\u0000') ? value : '';
}
