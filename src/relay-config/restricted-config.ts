import { DISABLED_CONFIG } from './project-config';
import type { ProjectConfig } from './types';

/**
 * The config a trusted but external relay may see (CONFIG.md, "Restricted config"): only when
 * the organization trusts that relay's key, and only the fields such a relay needs. Derived from
 * the full config, so it needs no database.
 */
export function restrictConfig(config: ProjectConfig, relayPublicKey: string): ProjectConfig {
  if (config.disabled || !config.config.trustedRelays.includes(relayPublicKey)) return DISABLED_CONFIG;
  const { allowedDomains, trustedRelays, piiConfig, datascrubbingSettings, features, breakdownsV2 } = config.config;
  return {
    ...config,
    config: { allowedDomains, trustedRelays, piiConfig, datascrubbingSettings, ...(features ? { features } : {}), breakdownsV2 },
  };
}
