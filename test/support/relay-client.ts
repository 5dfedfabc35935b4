import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { generateRelayKeyPair, parseRelaySecretKey, signRelayBody, type RelayKeyPair } from '../../src/relay-auth/keys';

/**
 * A test client that talks to the server the way Sentry Relay does: it signs every body with
 * `X-Sentry-Relay-Signature` (Ed25519 over `header ‖ NUL ‖ body`), registers with the
 * challenge/response handshake, and polls v3 project configs, re-polling pending keys every
 * 100 ms and giving up after 30 s.
 */

export interface RelayResponse<T = unknown> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export interface ProjectConfigsBody {
  configs?: Record<string, unknown>;
  pending?: string[];
  unchanged?: string[];
  global?: unknown;
  globalStatus?: string;
  global_status?: string;
}

export class TestRelay {
  readonly relayId: string;
  readonly secret: string;
  readonly publicKey: string;
  readonly version: string;
  private readonly keyPair: RelayKeyPair;

  constructor(
    readonly baseUrl: string,
    options: { relayId?: string; secret?: string; version?: string } = {},
  ) {
    this.relayId = options.relayId ?? randomUUID();
    const generated = options.secret ? null : generateRelayKeyPair();
    this.secret = options.secret ?? generated!.secret;
    this.keyPair = parseRelaySecretKey(this.secret)!;
    this.publicKey = this.keyPair.publicKeyText;
    this.version = options.version ?? '24.11.0';
  }

  /**
   * A signed POST through `node:http`, with the body exactly as the server sent it (no transparent
   * decompression as `fetch` does): for checking `Content-Encoding` replies byte by byte.
   */
  async postRaw(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    const raw = Buffer.from(JSON.stringify(body));
    const url = new URL(path, this.baseUrl);
    const allHeaders = { 'content-type': 'application/json', 'content-length': String(raw.length), 'x-sentry-relay-id': this.relayId, 'x-sentry-relay-signature': signRelayBody(this.keyPair.secretKey, raw), ...headers };
    return new Promise((resolve, reject) => {
      const req = httpRequest(url, { method: 'POST', headers: allHeaders }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(raw);
    });
  }

  /** Signs `body` exactly as sent (a string is sent as is, anything else as compact JSON). */
  async post<T = unknown>(path: string, body: unknown, options: { headers?: Record<string, string>; sign?: boolean; signedAt?: Date } = {}): Promise<RelayResponse<T>> {
    const raw = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-sentry-relay-id': this.relayId, ...options.headers };
    if (options.sign !== false) headers['x-sentry-relay-signature'] = signRelayBody(this.keyPair.secretKey, raw, options.signedAt);
    const response = await fetch(new URL(path, this.baseUrl), { method: 'POST', headers, body: raw });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed as T, text, headers: response.headers };
  }

  /** The challenge/response registration; throws with the server's answer when it fails. */
  async register(): Promise<void> {
    const challenge = await this.post<{ relay_id: string; token: string }>('/api/0/relays/register/challenge/', {
      relay_id: this.relayId,
      public_key: this.publicKey,
      version: this.version,
    });
    if (challenge.status !== 200) throw new Error(`challenge failed: ${challenge.status} ${challenge.text}`);
    const response = await this.post('/api/0/relays/register/response/', { relay_id: this.relayId, token: challenge.body.token, version: this.version });
    if (response.status !== 200) throw new Error(`registration failed: ${response.status} ${response.text}`);
  }

  projectConfigs(body: Record<string, unknown>, version: string | null = '3'): Promise<RelayResponse<ProjectConfigsBody>> {
    return this.post<ProjectConfigsBody>(`/api/0/relays/projectconfigs/${version === null ? '' : `?version=${version}`}`, body);
  }

  /**
   * Polls v3 like Relay: keys listed in `pending` are asked again every `intervalMs` until each
   * has a config, or `timeoutMs` passes (Relay then treats the project as disabled; here it throws).
   * A 503 (Redis or PostgreSQL really unavailable, e.g. a command timing out on a loaded machine)
   * is asked again after the interval, as Relay retries a failed fetch; any other status throws.
   */
  async pollConfigs(publicKeys: string[], options: { intervalMs?: number; timeoutMs?: number } = {}): Promise<{ configs: Map<string, unknown>; requests: number; unavailable: number }> {
    const intervalMs = options.intervalMs ?? 100;
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    const configs = new Map<string, unknown>();
    let waiting = [...new Set(publicKeys)];
    let requests = 0;
    let unavailable = 0;
    for (;;) {
      const response = await this.projectConfigs({ publicKeys: waiting, fullConfig: true });
      requests += 1;
      if (response.status === 503 && Date.now() <= deadline) {
        unavailable += 1;
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
        continue;
      }
      if (response.status !== 200) throw new Error(`projectconfigs answered ${response.status}: ${response.text}`);
      for (const [key, config] of Object.entries(response.body.configs ?? {})) configs.set(key, config);
      const pending = new Set(response.body.pending ?? []);
      waiting = waiting.filter((k) => pending.has(k));
      if (waiting.length === 0) return { configs, requests, unavailable };
      if (Date.now() > deadline) throw new Error(`${waiting.length} keys still pending after ${options.timeoutMs ?? 30_000} ms`);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
