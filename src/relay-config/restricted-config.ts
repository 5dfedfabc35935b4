import { DISABLED_CONFIG } from './project-config';
import { RESTRICTED_FIELDS } from './sections';
import type { ProjectConfig, ProjectConfigBody } from './types';

/**
 * The config a trusted but external relay may see (CONFIG.md, "Restricted config"): only when
 * the organization trusts that relay's key, and only the fields of the sections declared
 * `restricted`. Derived from the full config, so it needs no database.
 */
export function restrictConfig(config: ProjectConfig, relayPublicKey: string): ProjectConfig {
  if (config.disabled || !config.config.trustedRelays.includes(relayPublicKey)) return DISABLED_CONFIG;
  const restricted: Partial<ProjectConfigBody> = {};
  for (const field of RESTRICTED_FIELDS) {
    if (Object.hasOwn(config.config, field)) (restricted as Record<string, unknown>)[field] = config.config[field as keyof ProjectConfigBody];
  }
  return { ...config, config: restricted as ProjectConfigBody };
}
