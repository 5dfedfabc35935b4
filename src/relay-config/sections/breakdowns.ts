import { defineSection } from '../section';

/** Span breakdowns of transactions. Not in Sentry's restricted config. */
export const breakdownsSection = defineSection({
  name: 'breakdowns',
  fields: ['breakdownsV2'],
  reads: { projectOptions: ['sentry:breakdowns'] },
  restricted: false,
  build: ({ projectOption }) => ({ breakdownsV2: projectOption('sentry:breakdowns') }),
});
