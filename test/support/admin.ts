import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32, deflateSync } from 'node:zlib';
import { generateApiToken, hashApiToken, type Scope } from '../../src/admin/auth';
import type { Container } from '../../src/container';
import { computeOptionsOf, computeProjectConfigs } from '../../src/db/compute-configs';
import { ApiToken, Organization, OrganizationMember, User, type MemberRole } from '../../src/db/entities';
import { createApp } from '../../src/http/app';
import { closeServer, listen } from '../../src/http/server';

/** The management API on a real port, called with `fetch` as a client would. */

export interface Response<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface ApiClient {
  baseUrl: string;
  request<T = any>(method: string, path: string, options?: { token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> }): Promise<Response<T>>;
  get<T = any>(path: string, token?: string | null): Promise<Response<T>>;
  post<T = any>(path: string, body: unknown, token?: string | null): Promise<Response<T>>;
  put<T = any>(path: string, body: unknown, token?: string | null): Promise<Response<T>>;
  delete<T = any>(path: string, token?: string | null): Promise<Response<T>>;
  close(): Promise<void>;
}

/** Starts the app on 127.0.0.1 and an ephemeral port; `token` is the default bearer token. */
export async function startApi(container: Container, defaultToken?: string): Promise<ApiClient> {
  const server: Server = await listen(createApp(container), 0, '127.0.0.1');
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const request: ApiClient['request'] = async (method, path, options = {}) => {
    const token = options.token === undefined ? defaultToken : options.token;
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as any, headers: res.headers };
  };
  return {
    baseUrl,
    request,
    get: (path, token) => request('GET', path, { token }),
    post: (path, body, token) => request('POST', path, { body, token }),
    put: (path, body, token) => request('PUT', path, { body, token }),
    delete: (path, token) => request('DELETE', path, { token }),
    close: () => closeServer(server, 100),
  };
}

export const ALL_SCOPES: Scope[] = ['org:read', 'org:write', 'org:admin', 'project:read', 'project:write', 'project:admin'];

let counter = 0;

/** A user with a token of the given scopes (all by default). */
export async function userWithToken(
  container: Container,
  options: { email?: string; scopes?: Scope[]; superuser?: boolean; emailVerified?: boolean; name?: string } = {},
): Promise<{ user: User; token: string }> {
  const em = container.orm.em.fork();
  counter += 1;
  const user = em.create(User, {
    email: options.email ?? `user${counter}-${Date.now()}@example.com`,
    name: options.name ?? '',
    isSuperuser: options.superuser ?? false,
    emailVerified: options.emailVerified ?? true,
  });
  const token = generateApiToken();
  em.create(ApiToken, { user, hashedToken: hashApiToken(token), tokenLastCharacters: token.slice(-4), scopes: options.scopes ?? ALL_SCOPES });
  await em.flush();
  return { user, token };
}

/** Adds a user to an organization. */
export async function addMember(container: Container, organizationSlug: string, userId: number, role: MemberRole = 'member'): Promise<void> {
  const em = container.orm.em.fork();
  const organization = await em.findOneOrFail(Organization, { slug: organizationSlug });
  em.create(OrganizationMember, { organization, user: userId, role });
  await em.flush();
}

/** Creates an organization, a team and a project through the API; returns their slugs and the project's first key. */
export async function createOrgWithProject(api: ApiClient, token: string, slug: string): Promise<{ org: string; team: string; project: string; key: any }> {
  const org = await api.post('/api/0/organizations/', { name: `Org ${slug}`, slug }, token);
  if (org.status !== 201) throw new Error(`organization: ${org.status} ${JSON.stringify(org.body)}`);
  const team = await api.post(`/api/0/organizations/${slug}/teams/`, { name: 'Backend', slug: 'backend' }, token);
  if (team.status !== 201) throw new Error(`team: ${team.status} ${JSON.stringify(team.body)}`);
  const project = await api.post(`/api/0/teams/${slug}/backend/projects/`, { name: 'Web', slug: 'web', platform: 'javascript' }, token);
  if (project.status !== 201) throw new Error(`project: ${project.status} ${JSON.stringify(project.body)}`);
  const keys = await api.get(`/api/0/projects/${slug}/web/keys/`, token);
  return { org: slug, team: 'backend', project: 'web', key: keys.body[0] };
}

/** The config computed now from the database for a public key (what a build would cache). */
export async function configOf(container: Container, publicKey: string): Promise<any> {
  const { configs, failures } = await computeProjectConfigs(container.orm.em.fork(), [publicKey], computeOptionsOf(container.settings));
  if (failures.length > 0) throw new Error(`config of ${publicKey} failed: ${failures[0].message}`);
  return configs[0].config;
}

/** Builds and caches the configs of these keys, as a build job would. */
export async function cacheConfigs(container: Container, publicKeys: string[]): Promise<void> {
  const startedAt = await container.configCache.generation();
  const { configs } = await computeProjectConfigs(container.orm.em.fork(), publicKeys, computeOptionsOf(container.settings));
  await container.configCache.writeIfCurrent(configs, startedAt, 3600, null);
}

/** The cached config JSON of a key, parsed; null when none is cached. */
export async function cachedConfig(container: Container, publicKey: string): Promise<any> {
  const text = await container.redis.get(container.layout.config(publicKey));
  return text === null ? null : JSON.parse(text);
}

/** Polls until `check` returns a truthy value (or fails after `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A real (grey) PNG of the given size. */
export function makePng(width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const raw = Buffer.alloc((width + 1) * height, 0x80);
  for (let y = 0; y < height; y++) raw[y * (width + 1)] = 0; // filter byte per row
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', header), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A JPEG header (SOI, APP0, a baseline SOF0 with the size, EOI): enough for a format and size check. */
export function makeJpeg(width: number, height: number): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x0b, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff, 0x01, 0x01, 0x11, 0x00]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, Buffer.from([0xff, 0xd9])]);
}
