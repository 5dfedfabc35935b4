import { defineSection } from '../section';

/**
 * Session metrics extraction. Version 2 (the `abnormal_mechanism` tag) is Sentry's sampled
 * rollout option, which this service does not have, so every project gets version 1.
 */
export const sessionMetricsSection = defineSection({
  name: 'session-metrics',
  fields: ['sessionMetrics'],
  reads: {},
  restricted: false,
  build: () => ({ sessionMetrics: { version: 1 } }),
});
