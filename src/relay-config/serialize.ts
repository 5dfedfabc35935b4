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

function stringifyValue(value: unknown, depth: number): string | undefined {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const text = TEXT.get(value);
  if (text !== undefined) return text;
  if (depth === 0 || Array.isArray(value) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(value);
  let out = '{';
  for (const key of Object.keys(value)) {
    const member = stringifyValue((value as Record<string, unknown>)[key], depth - 1);
    // JSON.stringify leaves out members that are undefined, functions or symbols.
    if (member === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${member}`;
  }
  return `${out}}`;
}

/** `JSON.stringify(config)`, with the text of shared values spliced in rather than re-serialised. */
export function stringifyConfig(config: object): string {
  return stringifyValue(config, SHARED_DEPTH) as string;
}
