import { defineSection, unique } from '../section';

/** Feature flags of the organization and the project; left out when there are none. */
export const featuresSection = defineSection({
  name: 'features',
  fields: ['features'],
  reads: { organizationOptions: ['sentry:features'], projectOptions: ['sentry:features'] },
  restricted: true,
  build: ({ organizationOption, projectOption }) => {
    const features = unique([...organizationOption('sentry:features'), ...projectOption('sentry:features')]);
    return features.length > 0 ? { features } : {};
  },
});
