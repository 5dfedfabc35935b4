import { defineSection } from '../section';

/** The organization's event retention in days, else the server's; left out at 0, as Sentry's quota backend does. */
export const eventRetentionSection = defineSection({
  name: 'event-retention',
  fields: ['eventRetention'],
  reads: { organizationOptions: ['sentry:event_retention'] },
  restricted: false,
  build: ({ organizationOption, ctx }) => {
    const retention = organizationOption('sentry:event_retention') ?? ctx.eventRetentionDays;
    return retention > 0 ? { eventRetention: retention } : {};
  },
});
