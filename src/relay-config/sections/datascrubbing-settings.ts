import { defineSection } from '../section';

/** Legacy data scrubbing: an organization's `require_*` switches force the project's on. */
export const datascrubbingSettingsSection = defineSection({
  name: 'datascrubbing-settings',
  fields: ['datascrubbingSettings'],
  reads: {
    organizationOptions: ['sentry:safe_fields', 'sentry:require_scrub_data', 'sentry:require_scrub_ip_address', 'sentry:sensitive_fields', 'sentry:require_scrub_defaults'],
    projectOptions: ['sentry:safe_fields', 'sentry:scrub_data', 'sentry:scrub_ip_address', 'sentry:sensitive_fields', 'sentry:scrub_defaults'],
  },
  restricted: true,
  build: ({ organizationOption: org, projectOption: project }) => ({
    datascrubbingSettings: {
      excludeFields: [...org('sentry:safe_fields'), ...project('sentry:safe_fields')],
      scrubData: org('sentry:require_scrub_data') || project('sentry:scrub_data'),
      scrubIpAddresses: org('sentry:require_scrub_ip_address') || project('sentry:scrub_ip_address'),
      sensitiveFields: [...org('sentry:sensitive_fields'), ...project('sentry:sensitive_fields')],
      scrubDefaults: org('sentry:require_scrub_defaults') || project('sentry:scrub_defaults'),
    },
  }),
});
