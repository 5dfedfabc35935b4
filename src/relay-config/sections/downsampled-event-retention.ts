import { defineSection } from '../section';

declare module '../types' {
  interface ProjectConfigBody {
    downsampledEventRetention?: number;
  }
}

/** The organization's downsampled event retention in days; left out while unset (Relay then falls back to `eventRetention`). */
export const downsampledEventRetentionSection = defineSection({
  name: 'downsampled-event-retention',
  fields: ['downsampledEventRetention'],
  reads: { organizationOptions: ['sentry:downsampled_event_retention'] },
  restricted: false,
  build: ({ organizationOption }) => {
    const days = organizationOption('sentry:downsampled_event_retention');
    return days === null ? {} : { downsampledEventRetention: days };
  },
});
