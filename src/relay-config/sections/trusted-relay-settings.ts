import { defineSection } from '../section';

/** Whether Relay verifies the signature of trusted relays; only with the organization's flag, as in Sentry. */
export const trustedRelaySettingsSection = defineSection({
  name: 'trusted-relay-settings',
  fields: ['trustedRelaySettings'],
  reads: { organizationOptions: ['sentry:ingest-through-trusted-relays-only'], features: ['organizations:ingest-through-trusted-relays-only'] },
  restricted: false,
  build: ({ organizationOption, feature }) => {
    const verifySignature = organizationOption('sentry:ingest-through-trusted-relays-only');
    return feature('organizations:ingest-through-trusted-relays-only') ? { trustedRelaySettings: { verifySignature } } : {};
  },
});
