import type { CardinalityLimit } from '../../options/registry';
import { defineSection } from '../section';

declare module '../types' {
  interface ProjectConfigBody {
    metrics?: { cardinalityLimits: CardinalityLimit[] };
  }
}

/** The organization's metric cardinality limits; `metrics` is left out when there are none, as in Sentry. */
export const cardinalityLimitsSection = defineSection({
  name: 'cardinality-limits',
  fields: ['metrics'],
  reads: { organizationOptions: ['relay.cardinality-limiter.limits'] },
  restricted: false,
  build: ({ organizationOption }) => {
    const limits = organizationOption('relay.cardinality-limiter.limits');
    return limits.length > 0 ? { metrics: { cardinalityLimits: limits } } : {};
  },
});
