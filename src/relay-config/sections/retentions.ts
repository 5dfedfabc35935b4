import type { Retentions } from '../../options/registry';
import { defineSection } from '../section';

declare module '../types' {
  interface ProjectConfigBody {
    retentions?: Retentions;
  }
}

/** The organization's retention of logs, spans and trace metrics; left out while no category is set, as in Sentry. */
export const retentionsSection = defineSection({
  name: 'retentions',
  fields: ['retentions'],
  reads: { organizationOptions: ['sentry:retentions'] },
  restricted: false,
  build: ({ organizationOption }) => {
    const retentions = organizationOption('sentry:retentions');
    if (retentions === null) return {};
    // Only the categories that are set, in a fixed order, so equal settings give equal configs.
    const present = (['log', 'span', 'traceMetric'] as const).filter((category) => retentions[category] !== undefined).map((category) => [category, retentions[category]] as const);
    return present.length > 0 ? { retentions: Object.fromEntries(present) } : {};
  },
});
