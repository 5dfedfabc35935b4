import { defineSection, unique } from '../section';

/** Project origins plus the server's; lower-cased, without trailing `/`, no empties, unique. A server `*` wins. */
export function allowedDomains(projectOrigins: readonly string[], serverOrigins: readonly string[]): string[] {
  const normalise = (origins: readonly string[]) =>
    origins.map((o) => o.trim().toLowerCase().replace(/\/+$/, '')).filter((o) => o.length > 0);
  const server = normalise(serverOrigins);
  if (server.includes('*')) return ['*'];
  return unique([...normalise(projectOrigins), ...server]);
}

export const allowedDomainsSection = defineSection({
  name: 'allowed-domains',
  fields: ['allowedDomains'],
  reads: { projectOptions: ['sentry:origins'] },
  restricted: true,
  build: ({ projectOption, ctx }) => ({ allowedDomains: allowedDomains(projectOption('sentry:origins'), ctx.allowedOrigins) }),
});
