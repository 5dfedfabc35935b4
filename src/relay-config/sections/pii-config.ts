import { mergePiiConfigs, parsePiiConfig, type PiiConfig } from '../../options/pii-config';
import { defineSection } from '../section';
import { shared } from '../serialize';

/**
 * Merged configs by their two stored texts: an organization's rules recur in every key of it.
 * Bounded in memory, not only in count: pairs of texts over 16 KiB are merged each time, and
 * 256 pairs at most are kept (a few MiB per process however large tenants' rules are).
 */
const MERGED = new Map<string, PiiConfig>();
const MAX_MERGED = 256;
const MAX_CACHED_TEXT = 16 * 1024;

/** The merged config of two stored texts, parsed and merged once per pair (frozen: many configs share it). */
function mergedPiiConfig(organizationText: unknown, projectText: unknown): PiiConfig {
  const cacheable = typeof organizationText === 'string' && typeof projectText === 'string' && organizationText.length + projectText.length <= MAX_CACHED_TEXT;
  const cacheKey = cacheable ? `${organizationText}\u0000${projectText}` : '';
  const cached = cacheable ? MERGED.get(cacheKey) : undefined;
  if (cached) return cached;
  const merged = shared(
    mergePiiConfigs([
      { prefix: 'organization:', config: parsePiiConfig(organizationText) },
      { prefix: 'project:', config: parsePiiConfig(projectText) },
    ]),
  );
  if (cacheable) {
    if (MERGED.size >= MAX_MERGED) MERGED.clear();
    MERGED.set(cacheKey, merged);
  }
  return merged;
}

/** Advanced data scrubbing: the organization's rules, then the project's, each under its own prefix. */
export const piiConfigSection = defineSection({
  name: 'pii-config',
  fields: ['piiConfig'],
  reads: { organizationOptions: ['sentry:relay_pii_config'], projectOptions: ['sentry:relay_pii_config'] },
  restricted: true,
  build: ({ organizationOption, projectOption }) => ({
    piiConfig: mergedPiiConfig(organizationOption('sentry:relay_pii_config'), projectOption('sentry:relay_pii_config')),
  }),
});
