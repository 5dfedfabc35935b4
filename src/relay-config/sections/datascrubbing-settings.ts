import type { DataScrubbingSettings } from '../types';
import { defineSection } from '../section';

/**
 * Legacy data scrubbing: an organization's `require_*` switches force the project's on. As in
 * Sentry (and Relay's own serializer), `scrubData` and `scrubIpAddresses` are written only when true.
 */
export const datascrubbingSettingsSection = defineSection({
  name: 'datascrubbing-settings',
  fields: ['datascrubbingSettings'],
  reads: {
    organizationOptions: ['sentry:safe_fields', 'sentry:require_scrub_data', 'sentry:require_scrub_ip_address', 'sentry:sensitive_fields', 'sentry:require_scrub_defaults'],
    projectOptions: ['sentry:safe_fields', 'sentry:scrub_data', 'sentry:scrub_ip_address', 'sentry:sensitive_fields', 'sentry:scrub_defaults'],
  },
  restricted: true,
  build: ({ organizationOption: org, projectOption: project }) => {
    const settings: DataScrubbingSettings = { excludeFields: [...org('sentry:safe_fields'), ...project('sentry:safe_fields')], sensitiveFields: [], scrubDefaults: false };
    if (org('sentry:require_scrub_data') || project('sentry:scrub_data')) settings.scrubData = true;
    if (org('sentry:require_scrub_ip_address') || project('sentry:scrub_ip_address')) settings.scrubIpAddresses = true;
    settings.sensitiveFields = [...org('sentry:sensitive_fields'), ...project('sentry:sensitive_fields')];
    settings.scrubDefaults = org('sentry:require_scrub_defaults') || project('sentry:scrub_defaults');
    return { datascrubbingSettings: settings };
  },
});
