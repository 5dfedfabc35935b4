import { effectiveBiases, generateRules } from '../dynamic-sampling';
import { defineSection } from '../section';

/** Sentry's TARGET_SAMPLE_RATE_DEFAULT. */
const TARGET_SAMPLE_RATE_DEFAULT = 1.0;

/**
 * Dynamic sampling rules behind `organizations:dynamic-sampling`. The target rate is the
 * organization's (or, in project mode, the project's) only with
 * `organizations:dynamic-sampling-custom`, as in Sentry; otherwise Sentry asks its quota backend
 * for a blended rate, which a self-hosted install does not have, so the rate is 1.0.
 */
export const samplingSection = defineSection({
  name: 'sampling',
  fields: ['sampling'],
  reads: {
    organizationOptions: ['sentry:sampling_mode', 'sentry:target_sample_rate'],
    projectOptions: ['sentry:target_sample_rate', 'sentry:dynamic_sampling_biases'],
    features: ['organizations:dynamic-sampling', 'organizations:dynamic-sampling-custom'],
  },
  restricted: true,
  build: ({ organizationOption, projectOption, feature }) => {
    const mode = organizationOption('sentry:sampling_mode');
    const organizationRate = organizationOption('sentry:target_sample_rate');
    const projectRate = projectOption('sentry:target_sample_rate');
    const biases = effectiveBiases(projectOption('sentry:dynamic_sampling_biases'));
    const custom = feature('organizations:dynamic-sampling-custom');
    if (!feature('organizations:dynamic-sampling')) return {};
    const rate = custom ? (mode === 'project' ? projectRate : organizationRate) : TARGET_SAMPLE_RATE_DEFAULT;
    return { sampling: { version: 2, rules: generateRules(rate, biases) } };
  },
});
