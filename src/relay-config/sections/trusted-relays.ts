import { defineSection } from '../section';

/** The public keys of the relays the organization trusts. */
export const trustedRelaysSection = defineSection({
  name: 'trusted-relays',
  fields: ['trustedRelays'],
  reads: { organizationOptions: ['sentry:trusted-relays'] },
  restricted: true,
  build: ({ organizationOption }) => ({ trustedRelays: organizationOption('sentry:trusted-relays').map((relay) => relay.publicKey) }),
});
