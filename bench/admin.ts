import { hashApiToken, generateApiToken } from '../src/admin/auth';
import type { Container } from '../src/container';
import { ApiToken, User } from '../src/db/entities';

/** The management API as an operator uses it: a superuser's token and HTTP requests. */
export interface AdminClient {
  putTrustedRelays(orgSlug: string, relays: { publicKey: string; name: string; description?: string }[]): Promise<number>;
  putSensitiveFields(orgSlug: string, fields: string[]): Promise<number>;
}

export async function adminClient(container: Container, baseUrl: string): Promise<AdminClient> {
  const em = container.orm.em.fork();
  const user = em.create(User, { email: `bench-${Date.now()}@example.com`, name: 'bench', isSuperuser: true, emailVerified: true });
  const token = generateApiToken();
  em.create(ApiToken, { user, hashedToken: hashApiToken(token), tokenLastCharacters: token.slice(-4), scopes: ['org:read', 'org:write', 'org:admin', 'project:read', 'project:write', 'project:admin'] });
  await em.flush();

  /** PUTs organization settings; resolves with the time the response arrived. */
  async function put(orgSlug: string, body: unknown): Promise<number> {
    const response = await fetch(new URL(`/api/0/organizations/${orgSlug}/`, baseUrl), {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const done = Date.now();
    if (!response.ok) throw new Error(`PUT organization ${orgSlug}: ${response.status} ${await response.text()}`);
    return done;
  }

  return {
    putTrustedRelays: (orgSlug, relays) => put(orgSlug, { trustedRelays: relays }),
    putSensitiveFields: (orgSlug, fields) => put(orgSlug, { sensitiveFields: fields }),
  };
}
