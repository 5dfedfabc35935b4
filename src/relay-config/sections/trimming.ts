import type { Trimming } from '../../options/registry';
import { defineSection } from '../section';

declare module '../types' {
  interface ProjectConfigBody {
    trimming?: Trimming;
  }
}

/** The span size Relay trims to; left out while unset (no trimming), as Sentry's base trimming service does. */
export const trimmingSection = defineSection({
  name: 'trimming',
  fields: ['trimming'],
  reads: { organizationOptions: ['sentry:trimming'] },
  restricted: false,
  build: ({ organizationOption }) => {
    const trimming = organizationOption('sentry:trimming');
    return trimming === null ? {} : { trimming: { span: { maxSize: trimming.span.maxSize } } };
  },
});
