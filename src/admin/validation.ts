import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Request } from 'express';
import { z } from 'zod';
import { BadRequestError, ConflictError, UnsupportedMediaTypeError, ValidationError } from '../errors';
import { isPlainObject } from '../formats';


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

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Turns zod issues into `{field: [messages]}`; nested positions are named inside the message. */
export function fieldErrors(issues: readonly z.core.$ZodIssue[], input: unknown): Record<string, string[]> {
  // Null prototype: field names come from the client, who may send "__proto__".
  const errors = Object.create(null) as Record<string, string[]>;
  const add = (field: string, message: string) => {
    const list = (errors[field] ??= []);
    if (!list.includes(message)) list.push(message);
  };
  for (const issue of issues) {
    const [head, ...rest] = issue.path;
    const where = rest.length > 0 ? `${rest.map(String).join('.')}: ` : '';
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        if (head === undefined) add(key, 'Unknown field.');
        else add(String(head), `${where}unknown field "${key}".`);
      }
      continue;
    }
    let message = issue.message;
    if (issue.code === 'invalid_type') {
      const value = valueAt(input, issue.path);
      if (value === undefined) message = 'This field is required.';
      else if (value === null) message = 'This field may not be null.';
    }
    add(head === undefined ? 'non_field_errors' : String(head), `${where}${message}`);
  }
  return errors;
}

/** Parses a body with a schema, or throws a `ValidationError` naming every bad field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw new ValidationError(fieldErrors(result.error.issues, body));
}

/** Collects field errors from several checks, to report them all in one 400. */
export interface FieldErrors {
  add(field: string, ...messages: string[]): void;
  has(field?: string): boolean;
  /** Runs a parse and records its errors; returns the value, or undefined when it failed. */
  parse<T>(schema: z.ZodType<T>, body: unknown): T | undefined;
  throwIfAny(): void;
}

export function createFieldErrors(): FieldErrors {
  const errors = Object.create(null) as Record<string, string[]>;
  const add = (field: string, ...messages: string[]) => {
    (errors[field] ??= []).push(...messages);
  };
  return {
    add,
    has: (field) => (field === undefined ? Object.keys(errors).length > 0 : field in errors),
    parse(schema, body) {
      const result = schema.safeParse(body);
      if (result.success) return result.data;
      for (const [field, messages] of Object.entries(fieldErrors(result.error.issues, body))) add(field, ...messages);
      return undefined;
    },
    throwIfAny() {
      if (Object.keys(errors).length > 0) throw new ValidationError(errors);
    },
  };
}

// Sentry's slug rule (MIXED_SLUG): lower-case letters, digits, `_` and `-`, not all digits.
const SLUG_RE = /^(?![0-9]+$)[a-z0-9_-]+$/;
export const SLUG_MESSAGE = 'Enter a valid slug consisting of lowercase letters, numbers, underscores or hyphens. It cannot be entirely numeric.';
export const SLUG_MAX = 50;

export const slugSchema = z
  .string({ error: 'Must be a string.' })
  .max(SLUG_MAX, `Ensure this field has no more than ${SLUG_MAX} characters.`)
  .regex(SLUG_RE, SLUG_MESSAGE);

/** A slug derived from a name (`My Project!` → `my-project`); may be empty or invalid for odd names. */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, SLUG_MAX)
    .replace(/-+$/g, '');
}

/** The given slug, else one derived from the name; a `ValidationError` when neither is usable. */
export function slugOrDerived(slug: string | undefined, name: string): string {
  if (slug !== undefined) return slug;
  const derived = slugify(name);
  if (!SLUG_RE.test(derived)) throw new ValidationError({ slug: ['Could not derive a slug from the name; give one with "slug".'] });
  return derived;
}

/** A non-blank name of at most `max` characters, trimmed. */
export const nameSchema = (max: number) =>
  z
    .string({ error: 'Must be a string.' })
    .trim()
    .min(1, 'This field may not be blank.')
    .max(max, `Ensure this field has no more than ${max} characters.`);

/** An id in a path or body: a positive integer or its decimal text. */
const ID_MESSAGE = 'Must be a valid id.';
export const idSchema = z
  .union([z.number({ error: ID_MESSAGE }).int(ID_MESSAGE).positive(ID_MESSAGE).max(2_147_483_647, ID_MESSAGE), z.string({ error: ID_MESSAGE }).regex(/^[1-9][0-9]{0,9}$/, ID_MESSAGE)], { error: ID_MESSAGE })
  .transform(Number)
  .refine((id) => id <= 2_147_483_647, ID_MESSAGE);

/** A path id, or null when it is not one (the caller answers 404). */
export function parseId(text: string): number | null {
  return /^[1-9][0-9]{0,9}$/.test(text) && Number(text) <= 2_147_483_647 ? Number(text) : null;
}

/** Runs a write; a unique-constraint violation (a concurrent duplicate) becomes a 409 with `message`. */
export async function conflictOnDuplicate<T>(write: () => Promise<T>, message: string): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw new ConflictError(message);
    throw error;
  }
}

/** Field errors for every key of `body` that is not one of `known`. */
export function unknownFields(body: Record<string, unknown>, known: readonly string[], errors: FieldErrors): void {
  for (const key of Object.keys(body)) {
    if (!known.includes(key)) errors.add(key, `Unknown field. Known fields: ${known.join(', ')}.`);
  }
}

/** A named path segment; `''` (which names nothing, so 404) when absent or holding a NUL character. */
export function pathParam(req: Request, name: string): string {
  const value = req.params[name];
  return typeof value === 'string' && !value.includes('\u0000') ? value : '';
}
