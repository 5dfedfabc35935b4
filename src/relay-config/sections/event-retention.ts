import { defineSection } from '../section';

/** The organization's event retention in days, when it sets one. */
export const eventRetentionSection = defineSection({
  name: 'event-retention',
  fields: ['eventRetention'],
  reads: { organizationOptions: ['sentry:event_retention'] },
  restricted: false,
  build: ({ organizationOption }) => {
    const retention = organizationOption('sentry:event_retention');
    return typeof retention === 'number' ? { eventRetention: retention } : {};
  },
});
