/**
 * The JSON text of configs, without re-serialising what every config shares. Some section values
 * are the same objects in every config (the ~6 KiB performance-score profiles, the satisfaction
 * tagging rules): `shared()` freezes such a value and serialises it once, and `stringifyConfig`
 * splices that text in wherever the object appears. The text is exactly `JSON.stringify(config)`:
 * keys in the same order, `undefined` members left out the same way, `toJSON` honoured.
 */

const TEXT = new WeakMap<object, string>();

/** How deep `stringifyConfig` looks for shared values: the config, its `config` body, a section's field. */
const SHARED_DEPTH = 3;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

/** Marks a value that is the same in every config it appears in: frozen, and serialised once. */
export function shared<T extends object>(value: T): T {
  TEXT.set(deepFreeze(value), JSON.stringify(value));
  return value;
}

/** Whether `value` was marked with `shared()` (for tests). */
export const isShared = (value: object): boolean => TEXT.has(value);

/**
 * Where a shared value's text sits in a config's JSON: `start` is a UTF-16 offset into it, and
 * `text` the very string `shared()` produced (the same instance in every config).
 */
export interface SharedSpan {
  start: number;
  text: string;
}

/**
 * Shared texts shorter than this are not reported as spans: a gzip reply refers back to an
 * earlier copy of a span instead of repeating its compressed bytes (gzip-splice.ts), which only
 * pays for texts far longer than the few bytes of the reference.
 */
export const SHARED_SPAN_MIN_LENGTH = 512;

function stringifyValue(value: unknown, depth: number, at: number, spans: SharedSpan[] | null): string | undefined {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const text = TEXT.get(value);
  if (text !== undefined) {
    if (spans && text.length >= SHARED_SPAN_MIN_LENGTH) spans.push({ start: at, text });
    return text;
  }
  if (depth === 0 || Array.isArray(value) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(value);
  let out = '{';
  for (const key of Object.keys(value)) {
    const head = `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:`;
    // Spans are only pushed for members that are written (a shared value is never undefined).
    const member = stringifyValue((value as Record<string, unknown>)[key], depth - 1, at + out.length + head.length, spans);
    // JSON.stringify leaves out members that are undefined, functions or symbols.
    if (member === undefined) continue;
    out += head + member;
  }
  return `${out}}`;
}

/** `JSON.stringify(config)`, with the text of shared values spliced in rather than re-serialised. */
export function stringifyConfig(config: object): string {
  return stringifyValue(config, SHARED_DEPTH, 0, null) as string;
}

/** `stringifyConfig`, and where the longer shared texts are in it, in order. */
export function stringifyConfigWithSpans(config: object): { json: string; shared: SharedSpan[] } {
  const shared: SharedSpan[] = [];
  return { json: stringifyValue(config, SHARED_DEPTH, 0, shared) as string, shared };
}
