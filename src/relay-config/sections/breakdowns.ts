import { defineSection } from '../section';

/** Span breakdowns of transactions. */
export const breakdownsSection = defineSection({
  name: 'breakdowns',
  fields: ['breakdownsV2'],
  reads: { projectOptions: ['sentry:breakdowns'] },
  restricted: true,
  build: ({ projectOption }) => ({ breakdownsV2: projectOption('sentry:breakdowns') }),
});
