import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { z } from 'zod';
import { ConflictError, ValidationError } from '../errors';

/**
 * Input of the use cases, checked field by field, errors as Sentry (Django REST framework)
 * reports them — `{"<field>": ["message", ...]}` (a `ValidationError`, 400 over HTTP) — so the
 * API and the CLI word a bad value the same way.
 */


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

