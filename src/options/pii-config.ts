/**
 * Relay PII configs (`sentry:relay_pii_config`): validation and the organization + project merge.
 * Pure functions, shared by the option schemas and the config builder.
 */

export interface PiiConfig {
  rules?: Record<string, PiiRule>;
  applications?: Record<string, string[]>;
  [other: string]: unknown;
}

export type PiiRule = Record<string, unknown> & { type?: unknown; rules?: unknown };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Names a `multiple` rule refers to. */
function referencedRuleNames(rule: PiiRule): string[] {
  return rule.type === 'multiple' && Array.isArray(rule.rules) ? rule.rules.filter((r): r is string => typeof r === 'string') : [];
}

/**
 * Checks a parsed PII config; returns a message a user can act on, or null when valid. Every
 * referenced rule must be defined in `rules` or be a built-in (starts with `@`).
 */
export function validatePiiConfig(config: unknown): string | null {
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

/** Parses stored PII config text; null when unset, not JSON, or not a valid config. */
export function parsePiiConfig(text: unknown): PiiConfig | null {
  if (typeof text !== 'string' || text.trim() === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  return validatePiiConfig(parsed) === null ? (parsed as PiiConfig) : null;
}

/**
 * Merges PII configs in order (organization first, so a project cannot defeat its rules). Custom
 * rule names get the given prefix and every reference to them (applications, `multiple` rules) is
 * rewritten; built-ins such as `@creditcard:mask` stay as they are.
 */
export function mergePiiConfigs(parts: { prefix: string; config: PiiConfig | null }[]): PiiConfig {
  const merged: { rules?: Record<string, PiiRule>; applications?: Record<string, string[]> } = {};
  for (const { prefix, config } of parts) {
    if (!config) continue;
    const rules = config.rules ?? {};
    const rename = (name: string) => (Object.hasOwn(rules, name) ? `${prefix}${name}` : name);
    for (const [name, rule] of Object.entries(rules)) {
      const rewritten: PiiRule = rule.type === 'multiple' ? { ...rule, rules: referencedRuleNames(rule).map(rename) } : rule;
      (merged.rules ??= {})[`${prefix}${name}`] = rewritten;
    }
    for (const [selector, names] of Object.entries(config.applications ?? {})) {
      const target = ((merged.applications ??= {})[selector] ??= []);
      target.push(...names.map(rename));
    }
  }
  return merged;
}
