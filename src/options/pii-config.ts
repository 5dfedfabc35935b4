/**
 * Relay PII configs (`sentry:relay_pii_config`): validation and the organization + project merge.
 * Pure functions, shared by the option schemas and the config builder.
 *
 * Rule names and selectors are tenant-chosen strings that become object keys. The merge never
 * looks them up in a plain object (where `constructor` or `__proto__` would find
 * `Object.prototype`'s members): it works on `Map`s, so even a value stored before names were
 * checked merges as written instead of throwing.
 */

import { isPlainObject } from '../formats';

export interface PiiConfig {
  rules?: Record<string, PiiRule>;
  applications?: Record<string, string[]>;
  [other: string]: unknown;
}

export type PiiRule = Record<string, unknown> & { type?: unknown; rules?: unknown };

/** Names every plain object inherits (`constructor`, `toString`, `__proto__`, ...): refused as rule names and selectors. */
export const RESERVED_PII_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));



/** Names a `multiple` rule refers to. */
function referencedRuleNames(rule: PiiRule): string[] {
  return rule.type === 'multiple' && Array.isArray(rule.rules) ? rule.rules.filter((r): r is string => typeof r === 'string') : [];
}

/** The shape check alone: what the builder needs to merge a config. */
function structuralProblem(config: unknown): string | null {
  if (!isPlainObject(config)) return 'must be a JSON object';
  const { rules, applications } = config;
  if (rules !== undefined && !isPlainObject(rules)) return '"rules" must be an object of rule name to rule';
  const defined = new Set(Object.keys(rules ?? {}));
  const isKnown = (name: string) => defined.has(name) || name.startsWith('@');
  for (const [name, rule] of Object.entries(rules ?? {})) {
    if (!isPlainObject(rule)) return `rule "${name}" must be an object`;
    if (typeof rule.type !== 'string') return `rule "${name}" needs a "type"`;
    if (rule.type === 'multiple') {
      if (!Array.isArray(rule.rules) || rule.rules.some((r) => typeof r !== 'string')) {
        return `rule "${name}" of type "multiple" needs "rules": a list of rule names`;
      }
      const unknown = referencedRuleNames(rule).find((r) => !isKnown(r));
      if (unknown !== undefined) return `rule "${name}" refers to the undefined rule "${unknown}"`;
    }
  }
  if (applications !== undefined) {
    if (!isPlainObject(applications)) return '"applications" must be an object of selector to a list of rule names';
    for (const [selector, names] of Object.entries(applications)) {
      if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) {
        return `applications of "${selector}" must be a list of rule names`;
      }
      const unknown = (names as string[]).find((n) => !isKnown(n));
      if (unknown !== undefined) return `selector "${selector}" applies the undefined rule "${unknown}"`;
    }
  }
  return null;
}

const reservedMessage = (what: string, name: string) =>
  `${what} "${name}" is a reserved name (a property every JavaScript object inherits, like "constructor" or "__proto__"); choose another`;

/**
 * Checks a parsed PII config before it is stored; returns a message a user can act on, or null
 * when valid. Every referenced rule must be defined in `rules` or be a built-in (starts with
 * `@`), and no rule name or selector may be a reserved name (`RESERVED_PII_NAMES`).
 */
export function validatePiiConfig(config: unknown): string | null {
  const problem = structuralProblem(config);
  if (problem) return problem;
  const { rules, applications } = config as PiiConfig;
  const reservedRule = Object.keys(rules ?? {}).find((name) => RESERVED_PII_NAMES.has(name));
  if (reservedRule !== undefined) return reservedMessage('rule name', reservedRule);
  const reservedSelector = Object.keys(applications ?? {}).find((selector) => RESERVED_PII_NAMES.has(selector));
  if (reservedSelector !== undefined) return reservedMessage('selector', reservedSelector);
  return null;
}

/**
 * Parses stored PII config text; null when unset, not JSON, or not a valid config. Only the
 * shape is checked: a reserved name stored before names were checked still merges (safely).
 */
export function parsePiiConfig(text: unknown): PiiConfig | null {
  if (typeof text !== 'string' || text.trim() === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  return structuralProblem(parsed) === null ? (parsed as PiiConfig) : null;
}

/** A Map as an object whose keys are all own data properties (`Object.fromEntries` never calls a setter). */
const toObject = <V>(map: Map<string, V>): Record<string, V> => Object.fromEntries(map);

/**
 * Merges PII configs in order (organization first, so a project cannot defeat its rules). Custom
 * rule names get the given prefix and every reference to them (applications, `multiple` rules) is
 * rewritten; built-ins such as `@creditcard:mask` stay as they are.
 */
export function mergePiiConfigs(parts: { prefix: string; config: PiiConfig | null }[]): PiiConfig {
  const rules = new Map<string, PiiRule>();
  const applications = new Map<string, string[]>();
  for (const { prefix, config } of parts) {
    if (!config) continue;
    const own = new Map(Object.entries(config.rules ?? {}));
    const rename = (name: string) => (own.has(name) ? `${prefix}${name}` : name);
    for (const [name, rule] of own) {
      rules.set(`${prefix}${name}`, rule.type === 'multiple' ? { ...rule, rules: referencedRuleNames(rule).map(rename) } : rule);
    }
    for (const [selector, names] of Object.entries(config.applications ?? {})) {
      let target = applications.get(selector);
      if (!target) applications.set(selector, (target = []));
      target.push(...names.map(rename));
    }
  }
  const merged: PiiConfig = {};
  if (rules.size > 0) merged.rules = toObject(rules);
  if (applications.size > 0) merged.applications = toObject(applications);
  return merged;
}
