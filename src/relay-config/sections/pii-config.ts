import { mergePiiConfigs, parsePiiConfig } from '../../options/pii-config';
import { defineSection } from '../section';

/** Advanced data scrubbing: the organization's rules, then the project's, each under its own prefix. */
export const piiConfigSection = defineSection({
  name: 'pii-config',
  fields: ['piiConfig'],
  reads: { organizationOptions: ['sentry:relay_pii_config'], projectOptions: ['sentry:relay_pii_config'] },
  restricted: true,
  build: ({ organizationOption, projectOption }) => ({
    piiConfig: mergePiiConfigs([
      { prefix: 'organization:', config: parsePiiConfig(organizationOption('sentry:relay_pii_config')) },
      { prefix: 'project:', config: parsePiiConfig(projectOption('sentry:relay_pii_config')) },
    ]),
  }),
});
