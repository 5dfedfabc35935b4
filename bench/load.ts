import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { generateRelayKeyPair, parseRelaySecretKey, signRelayBody, type RelayKeyPair } from '../src/relay-auth/keys';

/** Relay-like load: signed requests over a fixed number of keep-alive connections, no gzip. */

export interface Reply {
  status: number;
  text: string;
}

export interface PreparedRequest {
  path: string;
  body: Buffer;
  headers: Record<string, string>;
  /** How a complete plain reply ends (at most 16 characters); by default `"pending":[]}`. */
  expectTail?: string;
}

export class BenchRelay {
  readonly relayId = randomUUID();
  readonly secret: string;
  readonly publicKey: string;
  private readonly keys: RelayKeyPair;

  constructor(
    readonly baseUrl: string,
    readonly agent: Agent,
  ) {
    this.secret = generateRelayKeyPair().secret;
    this.keys = parseRelaySecretKey(this.secret)!;
    this.publicKey = this.keys.publicKeyText;
  }

  /** A signed request, ready to send many times (signatures stay valid for 300 s). */
  prepare(path: string, payload: unknown): PreparedRequest {
    const body = Buffer.from(JSON.stringify(payload));
    return {
      path,
      body,
      headers: {
        'content-type': 'application/json',
        'content-length': String(body.length),
        'x-sentry-relay-id': this.relayId,
        'x-sentry-relay-signature': signRelayBody(this.keys.secretKey, body),
      },
    };
  }

  send(prepared: PreparedRequest): Promise<Reply> {
    return send(this.baseUrl, this.agent, prepared);
  }

  post(path: string, payload: unknown): Promise<Reply> {
    return this.send(this.prepare(path, payload));
  }

  async register(): Promise<void> {
    const challenge = await this.post('/api/0/relays/register/challenge/', { relay_id: this.relayId, public_key: this.publicKey, version: '24.11.0' });
    if (challenge.status !== 200) throw new Error(`challenge: ${challenge.status} ${challenge.text}`);
    const { token } = JSON.parse(challenge.text) as { token: string };
    const response = await this.post('/api/0/relays/register/response/', { relay_id: this.relayId, token, version: '24.11.0' });
    if (response.status !== 200) throw new Error(`register: ${response.status} ${response.text}`);
  }

  /**
   * Polls like Relay: each batch of up to 500 keys is one request; keys still pending are asked
   * again every 100 ms. Resolves with the configs (parsed) once every key has one.
   */
  async pollAll(keys: string[], options: { batch?: number; intervalMs?: number; timeoutMs?: number } = {}): Promise<Map<string, unknown>> {
    const batch = options.batch ?? 500;
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const configs = new Map<string, unknown>();
    const batches: string[][] = [];
    for (let i = 0; i < keys.length; i += batch) batches.push(keys.slice(i, i + batch));
    await Promise.all(
      batches.map(async (initial) => {
        let waiting = initial;
        for (;;) {
          const reply = await this.post('/api/0/relays/projectconfigs/?version=3', { publicKeys: waiting, fullConfig: true });
          if (reply.status !== 200) throw new Error(`projectconfigs: ${reply.status} ${reply.text.slice(0, 200)}`);
          const body = JSON.parse(reply.text) as { configs: Record<string, unknown>; pending: string[] };
          for (const [k, v] of Object.entries(body.configs)) configs.set(k, v);
          const pending = new Set(body.pending);
          waiting = waiting.filter((k) => pending.has(k));
          if (waiting.length === 0) return;
          if (Date.now() > deadline) throw new Error(`${waiting.length} keys still pending`);
          await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
        }
      }),
    );
    return configs;
  }
}

export function keepAliveAgent(connections: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
}

export function send(baseUrl: string, agent: Agent, prepared: PreparedRequest): Promise<Reply> {
  const url = new URL(prepared.path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', agent, headers: prepared.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(prepared.body);
  });
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  bytesPerReply: number;
}

/**
 * One request whose reply is counted, not kept: the load generator shares the machine's cores
 * with the servers, so it must cost as little as possible. A reply counts as complete when it is
 * a 200 whose JSON ends with an empty `pending` list (for a gzip reply: a 200 with `Content-Encoding:
 * gzip`; inflating every reply would load the generator, and the tests check the bytes decode exactly).
 */
function sendCounted(url: URL, agent: Agent, prepared: PreparedRequest): Promise<{ ok: boolean; bytes: number }> {
  return new Promise((resolve) => {
    const req = request({ host: url.hostname, port: url.port, path: prepared.path, method: 'POST', agent, headers: prepared.headers }, (res) => {
      let bytes = 0;
      let tail = '';
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        tail = (tail + chunk.toString('latin1', Math.max(0, chunk.length - 16))).slice(-16);
      });
      const gzip = res.headers['content-encoding'] === 'gzip';
      res.on('end', () => resolve({ ok: res.statusCode === 200 && (gzip || tail.endsWith(prepared.expectTail ?? '"pending":[]}')), bytes }));
      res.on('error', () => resolve({ ok: false, bytes }));
    });
    req.on('error', () => resolve({ ok: false, bytes: 0 }));
    req.end(prepared.body);
  });
}

/** Sends the prepared requests round-robin over `connections` keep-alive connections for `durationMs`. */
export async function hammer(baseUrl: string, prepared: PreparedRequest[], connections: number, durationMs: number): Promise<LoadResult> {
  const agent = keepAliveAgent(connections);
  const url = new URL(baseUrl);
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  let next = 0;
  const started = process.hrtime.bigint();
  const stopAt = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < stopAt) {
        const item = prepared[next++ % prepared.length];
        const t0 = process.hrtime.bigint();
        const reply = await sendCounted(url, agent, item);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        bytes += reply.bytes;
        if (!reply.ok) errors += 1;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { requests: latencies.length, errors, seconds, perSecond: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), bytesPerReply: bytes / Math.max(1, latencies.length) };
}
