import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import pino from 'pino';
import { hashApiToken, generateApiToken } from '../src/admin/auth';
import { deleteKeysWithPrefix } from '../src/caches/redis';
import { loadSettings } from '../src/config/settings';
import { createContainer, type Container } from '../src/container';
import { ApiToken, User } from '../src/db/entities';
import { applyMigrations } from '../src/db/orm';
import { outboxStats } from '../src/db/outbox';
import { seed } from '../src/db/seed';
import { generateRelayKeyPair, parseRelaySecretKey, signRelayBody, type RelayKeyPair } from '../src/relay-auth/keys';
import { verifyCachedConfigs, type ConfigDrift } from '../src/services/config-drift';
import { JOB_KIND_NAMES, jobKind } from '../src/jobs/registry';
import { TcpProxy } from '../test/support/tcp-proxy';
import { createDatabase, freePort } from './fleet';
import { prng } from '../test/support/prng';
import { LAUNCH_ENV, launchRoleOf } from '../src/launch-env';

/**
 * The chaos run (the CI test and `npm run soak`): separate API and worker processes reach
 * PostgreSQL and Redis through TCP proxies; for the duration, Relays poll with revisions, an
 * operator changes settings, workers are SIGKILLed and restarted, and Redis and PostgreSQL are cut
 * and restored, all at once. Each actor draws its actions and pauses from its own stream of a
 * seeded PRNG, so a seed fixes the schedule of actions; which request meets which cut is up to the
 * real processes and cannot be replayed. Afterwards everything must converge: no drift, no stale
 * Relay view, no 5xx but 503, every process alive.
 */

export interface ChaosOptions {
  seed: number;
  durationMs: number;
  apis?: number;
  workers?: number;
  log?: (message: string) => void;
}

export interface ChaosCounts {
  polls: number;
  pollsRefused: number;
  pollsPending: number;
  changes: number;
  changesRefused: number;
  changesRejected: number;
  projectsCreated: number;
  projectsDeleted: number;
  kills: number;
  redisCuts: number;
  postgresCuts: number;
  /** Responses with a 5xx other than 503 (must stay 0). */
  serverErrors: number;
  /** Responses whose body should be JSON and was not (must stay 0). */
  nonJson: number;
}

export interface ChaosReport {
  seed: number;
  counts: ChaosCounts;
  /** Keys whose cached config differs from a fresh build after everything settled. */
  drift: ConfigDrift[];
  /** Keys for which a Relay's final view (after its revisions were answered) is not the cached config. */
  staleViews: string[];
  /** Every broken invariant, in words; empty means the run passed. */
  violations: string[];
  seconds: number;
}

/** A seed from `--seed`/`CHAOS_SEED`, or a fresh random one. */
export function chaosSeed(value: string | undefined): number {
  if (value === undefined || value === '') return randomBytes(4).readUInt32BE(0);
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`the seed must be an integer from 0 to 4294967295, not "${value}"`);
  return n;
}

export { prng };

/** One stream per actor, so one actor's draws never shift another's schedule. */
function stream(seed: number, actor: string) {
  let h = seed >>> 0;
  for (const ch of actor) h = Math.imul(h ^ ch.charCodeAt(0), 0x9e3779b1) >>> 0;
  const next = prng(h);
  return {
    next,
    between: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)],
    chance: (p: number) => next() < p,
  };
}
type Stream = ReturnType<typeof stream>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The compiled service: `dist/` seen from the compiled driver (dist/bench) or from its source (bench/). */
function distDir(): string {
  const fromCompiled = path.resolve(__dirname, '..');
  return existsSync(path.join(fromCompiled, 'workers', 'api.js')) ? fromCompiled : path.resolve(__dirname, '..', 'dist');
}

/** Waits until no queue has a waiting, delayed or active job for a second; null, or what is still busy. */
async function settleQueues(container: Container, timeoutMs: number, log: (m: string) => void): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  let quietSince: number | null = null;
  let lastLog = Date.now();
  for (;;) {
    const busy: string[] = [];
    for (const name of JOB_KIND_NAMES) {
      // A scheduled kind always has its next run delayed: only its running or waiting jobs count.
      const states = jobKind(name).repeat ? (['waiting', 'active', 'prioritized'] as const) : (['waiting', 'delayed', 'active', 'prioritized'] as const);
      const counts = await container.queues[name].getJobCounts(...states);
      for (const [state, n] of Object.entries(counts)) if (n > 0) busy.push(`${name} ${state} ${n}`);
    }
    if (busy.length === 0) {
      quietSince ??= Date.now();
      if (Date.now() - quietSince >= 1000) return null;
    } else quietSince = null;
    if (Date.now() > deadline) return busy.join(', ');
    if (busy.length > 0 && Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log(`still busy: ${busy.join(', ')}`);
    }
    await sleep(100);
  }
}

interface Reply {
  status: number;
  text: string;
}

/** One request on a connection of its own: keep-alive races of a reused socket would be noise, not findings. */
function http(url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: body ? { ...headers, 'content-length': String(body.length) } : headers, agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within 30 s: ${method} ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

interface Role {
  name: string;
  script: 'workers/api.js' | 'workers/worker.js';
  env: NodeJS.ProcessEnv;
  portVariable: 'PORT' | 'WORKER_PORT';
  url: string;
  child: ChildProcess | null;
  /** The last output, for the report when it dies. */
  tail: string;
}

async function startRole(role: Role): Promise<void> {
  const port = await freePort();
  role.url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [path.join(distDir(), role.script)], { env: { ...LAUNCH_ENV[launchRoleOf(role.script) ?? 'all'], ...role.env, [role.portVariable]: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  role.child = child;
  const keep = (d: Buffer) => (role.tail = (role.tail + d.toString()).slice(-4000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${role.name} exited at start (${child.exitCode ?? child.signalCode}):\n${role.tail}`);
    if (await fetch(`${role.url}/healthz`).then((r) => r.ok, () => false)) return;
    if (Date.now() > deadline) throw new Error(`${role.name} did not become healthy in 60 s:\n${role.tail}`);
    await sleep(100);
  }
}

async function signalRole(role: Role, signal: NodeJS.Signals): Promise<void> {
  const child = role.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

/** A Relay that polls v3 with the revisions of the configs it holds, as Relay does. */
class ChaosRelay {
  readonly relayId = randomUUID();
  readonly keyPair: RelayKeyPair;
  /** What this Relay holds per key: the config object (with its `rev`), or null for disabled. */
  readonly held = new Map<string, Record<string, unknown> | null>();
  /** Keys answered pending, asked again first. */
  pending = new Set<string>();

  constructor(secret = generateRelayKeyPair().secret) {
    this.keyPair = parseRelaySecretKey(secret)!;
  }

  post(baseUrl: string, path: string, payload: unknown): Promise<Reply> {
    const body = Buffer.from(JSON.stringify(payload));
    return http(`${baseUrl}${path}`, 'POST', { 'content-type': 'application/json', 'x-sentry-relay-id': this.relayId, 'x-sentry-relay-signature': signRelayBody(this.keyPair.secretKey, body) }, body);
  }

  async register(baseUrl: string): Promise<void> {
    const challenge = await this.post(baseUrl, '/api/0/relays/register/challenge/', { relay_id: this.relayId, public_key: this.keyPair.publicKeyText, version: '24.11.0' });
    if (challenge.status !== 200) throw new Error(`challenge: ${challenge.status} ${challenge.text}`);
    const { token } = JSON.parse(challenge.text) as { token: string };
    const response = await this.post(baseUrl, '/api/0/relays/register/response/', { relay_id: this.relayId, token, version: '24.11.0' });
    if (response.status !== 200) throw new Error(`register: ${response.status} ${response.text}`);
  }

  /** Sends one v3 request for these keys; applies the answer to what it holds. */
  async poll(baseUrl: string, keys: string[]): Promise<{ reply: Reply; body?: { configs?: Record<string, unknown>; pending?: string[]; unchanged?: string[] } }> {
    const revisions = keys.map((k) => {
      const config = this.held.get(k);
      return config && typeof config.rev === 'string' ? config.rev : null;
    });
    const reply = await this.post(baseUrl, '/api/0/relays/projectconfigs/?version=3', { publicKeys: keys, revisions, fullConfig: true });
    if (reply.status !== 200) return { reply };
    const parsed = parseJson(reply.text);
    if (!parsed.ok) return { reply };
    const body = parsed.value as { configs?: Record<string, unknown>; pending?: string[]; unchanged?: string[] };
    const answered = new Set<string>();
    for (const [key, config] of Object.entries(body.configs ?? {})) {
      answered.add(key);
      const disabled = config === null || (config as { disabled?: unknown }).disabled === true;
      this.held.set(key, disabled ? null : (config as Record<string, unknown>));
    }
    for (const key of body.unchanged ?? []) answered.add(key);
    for (const key of body.pending ?? []) answered.add(key);
    const pending = new Set(body.pending ?? []);
    // Absent from every list: Relay reads it as disabled.
    for (const key of keys) if (!answered.has(key)) this.held.set(key, null);
    for (const key of keys) {
      if (pending.has(key)) this.pending.add(key);
      else this.pending.delete(key);
    }
    return { reply, body };
  }
}

interface ProjectRef {
  org: string;
  slug: string;
  keys: string[];
  live: boolean;
}

const emptyCounts = (): ChaosCounts => ({
  polls: 0,
  pollsRefused: 0,
  pollsPending: 0,
  changes: 0,
  changesRefused: 0,
  changesRejected: 0,
  projectsCreated: 0,
  projectsDeleted: 0,
  kills: 0,
  redisCuts: 0,
  postgresCuts: 0,
  serverErrors: 0,
  nonJson: 0,
});

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? ((m: string) => process.stderr.write(`[chaos] ${m}\n`));
  const started = Date.now();
  const phase = (name: string) => log(`${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  const counts = emptyCounts();
  const violations: string[] = [];
  const violation = (message: string) => {
    if (violations.length < 50) violations.push(message);
    else if (violations.length === 50) violations.push('… (further violations not listed)');
  };
  log(`seed ${options.seed} (CHAOS_SEED=${options.seed} or --seed ${options.seed} replays the schedule of actions; the interleaving of real processes cannot be replayed)`);

  const base = loadSettings();
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const database = await createDatabase(base.databaseUrl, `relaycfg_chaos_${runId}`);
  const prefix = `chaos:${runId}:`;
  const pgTarget = new URL(database.url);
  const redisTarget = new URL(base.redisUrl);
  const pgProxy = await new TcpProxy(pgTarget.hostname, Number(pgTarget.port || 5432)).start();
  const redisProxy = await new TcpProxy(redisTarget.hostname, Number(redisTarget.port || 6379)).start();
  const pgViaProxy = new URL(database.url);
  pgViaProxy.hostname = '127.0.0.1';
  pgViaProxy.port = String(pgProxy.port);
  const redisViaProxy = new URL(base.redisUrl);
  redisViaProxy.hostname = '127.0.0.1';
  redisViaProxy.port = String(redisProxy.port);

  // The driver's own view of the data goes around the proxies: it checks, it is not under test.
  const container: Container = await createContainer({ ...base, databaseUrl: database.url, redisKeyPrefix: prefix, logLevel: 'warn' }, 'cli', { logger: pino({ level: 'warn' }) });
  const apis: Role[] = [];
  const workers: Role[] = [];
  const drift: ConfigDrift[] = [];
  const staleViews: string[] = [];
  try {
    await applyMigrations(container.orm);
    const seeded = await seed(container.orm.em.fork(), { orgs: 3, projects: 3, keys: 2, slugPrefix: 'chaos' });
    const projects: ProjectRef[] = seeded.organizations.flatMap((o) => o.projects.map((p) => ({ org: o.slug, slug: p.slug, keys: p.publicKeys, live: true })));
    const keyPool = [...seeded.publicKeys];
    const allKeys = new Set(keyPool);

    const em = container.orm.em.fork();
    const user = em.create(User, { email: `chaos-${runId}@example.com`, name: 'chaos operator', isSuperuser: true, emailVerified: true });
    const token = generateApiToken();
    em.create(ApiToken, { user, hashedToken: hashApiToken(token), tokenLastCharacters: token.slice(-4), scopes: ['org:read', 'org:write', 'org:admin', 'project:read', 'project:write', 'project:admin'] });
    await em.flush();

    // One Relay is allowed by its key (whitelisted), the others register and are internal by address.
    const whitelisted = generateRelayKeyPair();
    const relays = [new ChaosRelay(whitelisted.secret), new ChaosRelay(), new ChaosRelay()];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      SYSTEM_SECRET_KEY: `chaos-${runId}-secret-not-for-production`,
      DATABASE_URL: pgViaProxy.toString(),
      REDIS_URL: redisViaProxy.toString(),
      REDIS_KEY_PREFIX: prefix,
      INTERNAL_SYSTEM_IPS: '127.0.0.1/32',
      RELAY_WHITELIST_PK: whitelisted.public,
      INVALIDATION_DELAY_MS: '100',
      OUTBOX_POLL_MS: '100',
      // A SIGKILLed worker's build claims hold their keys pending until they expire.
      BUILD_CLAIM_TTL_S: '3',
      LOG_LEVEL: 'warn',
    };
    for (let i = 0; i < (options.apis ?? 2); i += 1) apis.push({ name: `api-${i}`, script: 'workers/api.js', env, portVariable: 'PORT', url: '', child: null, tail: '' });
    for (let i = 0; i < (options.workers ?? 2); i += 1) workers.push({ name: `worker-${i}`, script: 'workers/worker.js', env, portVariable: 'WORKER_PORT', url: '', child: null, tail: '' });
    log(`starting ${apis.length} API and ${workers.length} worker processes behind the proxies`);
    await Promise.all([...apis, ...workers].map(startRole));
    phase('processes healthy');
    for (const relay of relays) await relay.register(apis[0].url);
    for (const relay of relays) {
      for (let i = 0; i < 200 && (relay.pending.size > 0 || relay.held.size < keyPool.length); i += 1) {
        const { reply } = await relay.poll(apis[0].url, relay.pending.size > 0 ? [...relay.pending] : keyPool);
        if (reply.status !== 200) throw new Error(`first poll: ${reply.status} ${reply.text}`);
        await sleep(100);
      }
    }

    const liveApi = (s: Stream) => s.pick(apis).url;
    const until = Date.now() + options.durationMs;
    const running = () => Date.now() < until;
    /** A pause that ends by the deadline, so the last cut or kill does not outlast the run by much. */
    const pause = (ms: number) => sleep(Math.max(0, Math.min(ms, until - Date.now())));

    /** Counts a response of the management API; returns its parsed body on 2xx. */
    const operatorCall = async (s: Stream, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown } | null> => {
      let reply: Reply;
      try {
        reply = await http(`${liveApi(s)}${path}`, method, { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body === undefined ? undefined : Buffer.from(JSON.stringify(body)));
      } catch (error) {
        violation(`${method} ${path}: no response (${(error as Error).message})`);
        return null;
      }
      const parsed = reply.text === '' && reply.status === 204 ? { ok: true as const, value: null } : parseJson(reply.text);
      if (!parsed.ok) {
        counts.nonJson += 1;
        violation(`${method} ${path}: ${reply.status} with a body that is not JSON: ${reply.text.slice(0, 200)}`);
      }
      if (reply.status === 503) counts.changesRefused += 1;
      else if (reply.status >= 500) {
        counts.serverErrors += 1;
        violation(`${method} ${path}: ${reply.status} ${reply.text.slice(0, 300)}`);
      } else if (reply.status >= 400) {
        counts.changesRejected += 1;
        // The driver keeps its own picture of what exists, and a refused delete may have committed:
        // a 404 for such a project is expected, anything else means the driver sends bad requests.
        if (reply.status !== 404) violation(`${method} ${path}: ${reply.status} ${reply.text.slice(0, 300)}`);
      } else if (method !== 'GET') counts.changes += 1;
      return { status: reply.status, body: parsed.ok ? parsed.value : null };
    };

    const relayActor = async (relay: ChaosRelay, index: number) => {
      const s = stream(options.seed, `relay-${index}`);
      while (running()) {
        const size = s.between(1, 12);
        const keys = new Set([...relay.pending].slice(0, size));
        while (keys.size < size) keys.add(s.pick(keyPool));
        const path = '/api/0/relays/projectconfigs/?version=3';
        try {
          const { reply, body } = await relay.poll(liveApi(s), [...keys]);
          counts.polls += 1;
          if (reply.status === 200 && !body) {
            counts.nonJson += 1;
            violation(`relay poll: 200 with a body that is not JSON: ${reply.text.slice(0, 200)}`);
          } else if (reply.status === 200) {
            if (!Array.isArray(body!.pending)) violation(`relay poll: 200 without a pending list: ${reply.text.slice(0, 200)}`);
            if ((body!.pending ?? []).length > 0) counts.pollsPending += 1;
          } else if (reply.status === 503) {
            counts.pollsRefused += 1;
            if (!parseJson(reply.text).ok) {
              counts.nonJson += 1;
              violation(`relay poll: 503 with a body that is not JSON: ${reply.text.slice(0, 200)}`);
            }
          } else {
            if (reply.status >= 500) counts.serverErrors += 1;
            violation(`relay poll: ${reply.status} ${reply.text.slice(0, 300)}`);
          }
        } catch (error) {
          violation(`relay poll ${path}: no response (${(error as Error).message})`);
        }
        await sleep(s.between(30, 250));
      }
    };

    const trustedPool = Array.from({ length: 4 }, (_, i) => ({ name: `edge-${i}`, publicKey: generateRelayKeyPair().public }));
    let created = 0;
    const operatorActor = async () => {
      const s = stream(options.seed, 'operator');
      while (running()) {
        await sleep(s.between(80, 500));
        const live = projects.filter((p) => p.live);
        const project = s.pick(live);
        const org = s.pick(seeded.organizations).slug;
        const roll = s.next();
        if (roll < 0.2) await operatorCall(s, 'PUT', `/api/0/organizations/${org}/`, { safeFields: [`safe-${s.between(0, 999)}`] });
        else if (roll < 0.35) await operatorCall(s, 'PUT', `/api/0/organizations/${org}/`, { sensitiveFields: [`secret-${s.between(0, 999)}`] });
        else if (roll < 0.5) {
          const relaysNow = trustedPool.filter(() => s.chance(0.5));
          await operatorCall(s, 'PUT', `/api/0/organizations/${org}/`, { trustedRelays: relaysNow });
        } else if (roll < 0.7) {
          await operatorCall(s, 'PUT', `/api/0/projects/${project.org}/${project.slug}/`, { options: { 'sentry:blacklisted_ips': [`10.${s.between(0, 255)}.0.0/16`] } });
        } else if (roll < 0.9) {
          const key = s.pick(project.keys);
          await operatorCall(s, 'PUT', `/api/0/projects/${project.org}/${project.slug}/keys/${key}/`, { isActive: s.chance(0.5) });
        } else if (roll < 0.95) {
          created += 1;
          const slug = `chaos-${created}`;
          const team = await operatorCall(s, 'POST', `/api/0/teams/${org}/backend/projects/`, { name: `Chaos ${created}`, slug, platform: 'python' });
          if (team?.status === 201) {
            counts.projectsCreated += 1;
            const keys = await operatorCall(s, 'GET', `/api/0/projects/${org}/${slug}/keys/`);
            const publicKeys = keys?.status === 200 ? (keys.body as { public: string }[]).map((k) => k.public) : [];
            // A project whose keys could not be read (a cut) stays out of the pool; the drift check still covers it.
            if (publicKeys.length > 0) {
              projects.push({ org, slug, keys: publicKeys, live: true });
              for (const k of publicKeys) {
                if (allKeys.has(k)) continue;
                allKeys.add(k);
                keyPool.push(k);
              }
            }
          }
        } else if (live.length > 3) {
          const reply = await operatorCall(s, 'DELETE', `/api/0/projects/${project.org}/${project.slug}/`);
          // Refused (503) may still have committed; either way the driver stops changing it.
          if (reply && (reply.status === 204 || reply.status === 503 || reply.status === 404)) project.live = false;
          if (reply?.status === 204) counts.projectsDeleted += 1;
        }
      }
    };

    const killerActor = async () => {
      const s = stream(options.seed, 'killer');
      while (running()) {
        await sleep(s.between(1500, 5000));
        if (!running()) break;
        const worker = s.pick(workers);
        await signalRole(worker, 'SIGKILL');
        counts.kills += 1;
        await pause(s.between(200, 2000));
        try {
          await startRole(worker);
        } catch (error) {
          violation(`${worker.name} did not come back after SIGKILL: ${(error as Error).message}`);
        }
      }
    };

    const cutterActor = async (name: 'redis' | 'postgres', proxy: TcpProxy) => {
      const s = stream(options.seed, `cut-${name}`);
      while (running()) {
        await sleep(s.between(1000, 5000));
        if (!running()) break;
        proxy.cut();
        if (name === 'redis') counts.redisCuts += 1;
        else counts.postgresCuts += 1;
        await pause(s.between(500, 3000));
        proxy.restore();
      }
    };

    phase('Relays registered and filled');
    log(`chaos for ${Math.round(options.durationMs / 1000)} s: ${relays.length} Relays polling, an operator, worker kills, Redis and PostgreSQL cuts`);
    await Promise.all([
      ...relays.map((r, i) => relayActor(r, i)),
      operatorActor(),
      killerActor(),
      cutterActor('redis', redisProxy),
      cutterActor('postgres', pgProxy),
    ]);
    pgProxy.restore();
    redisProxy.restore();

    phase('chaos over');
    log('restored; waiting for the outbox to drain and the queues to settle');
    const drainDeadline = Date.now() + 60_000;
    let depth = -1;
    while (Date.now() < drainDeadline) {
      depth = (await outboxStats(container.orm)).depth;
      if (depth === 0) break;
      await sleep(100);
    }
    phase(`outbox drained`);
    if (depth !== 0) violation(`the outbox still holds ${depth} rows 60 s after the chaos`);
    // A job a SIGKILLed worker held stays active until BullMQ finds it stalled (its 10 s lock
    // lapses, JOB_LOCK_MS) and runs it again: that, not a timeout here, is how such a change arrives.
    const settled = await settleQueues(container, 90_000, log);
    if (settled !== null) violation(`queues still busy 90 s after the chaos: ${settled}`);

    phase('queues settled');
    drift.push(...(await verifyCachedConfigs(container, { all: true })).drift);
    if (drift.length > 0) violation(`drift in ${drift.length} keys: ${JSON.stringify(drift.slice(0, 3)).slice(0, 1500)}`);

    phase('drift checked');
    // Each Relay asks for everything it knows with its revisions: what it then holds must be what is cached.
    const everyKey = [...allKeys];
    for (const [index, relay] of relays.entries()) {
      relay.pending = new Set(everyKey);
      for (let attempt = 0; attempt < 300 && relay.pending.size > 0; attempt += 1) {
        const { reply } = await relay.poll(apis[index % apis.length].url, [...relay.pending]);
        if (reply.status !== 200) violation(`final poll of relay ${index}: ${reply.status} ${reply.text.slice(0, 200)}`);
        if (relay.pending.size > 0) await sleep(100);
      }
      if (relay.pending.size > 0) violation(`relay ${index}: ${relay.pending.size} keys still pending 30 s after the chaos`);
      const stored = await container.configCache.peek(everyKey);
      for (const key of everyKey) {
        const text = stored.get(key);
        const cached = text === undefined ? null : (JSON.parse(text) as Record<string, unknown>);
        const expected = cached === null || cached.disabled === true ? null : cached;
        if (JSON.stringify(relay.held.get(key) ?? null) !== JSON.stringify(expected)) staleViews.push(`relay ${index}: ${key}`);
      }
    }
    if (staleViews.length > 0) violation(`Relays hold configs other than the cached ones: ${staleViews.slice(0, 5).join(', ')}`);

    phase('Relay views checked');
    for (const role of [...apis, ...workers]) {
      const alive = role.child !== null && role.child.exitCode === null && role.child.signalCode === null;
      const healthy = alive && (await fetch(`${role.url}/healthz`).then((r) => r.ok, () => false));
      if (!healthy) violation(`${role.name} is not alive and healthy after the chaos:\n${role.tail}`);
    }
  } finally {
    pgProxy.restore();
    redisProxy.restore();
    await Promise.all([...apis, ...workers].map((role) => signalRole(role, 'SIGTERM').catch(() => undefined)));
    await pgProxy.close();
    await redisProxy.close();
    await deleteKeysWithPrefix(container.redis, prefix).catch(() => undefined);
    await container.close().catch(() => undefined);
    await database.drop().catch(() => undefined);
    phase('stopped and cleaned up');
  }
  const report: ChaosReport = { seed: options.seed, counts, drift, staleViews, violations, seconds: Math.round((Date.now() - started) / 100) / 10 };
  log(summary(report));
  return report;
}

export function summary(report: ChaosReport): string {
  const c = report.counts;
  return [
    `seed ${report.seed}, ${report.seconds} s in all`,
    `polls ${c.polls} (503 ${c.pollsRefused}, with pending ${c.pollsPending})`,
    `changes ${c.changes} accepted, ${c.changesRefused} refused with 503, ${c.changesRejected} rejected 4xx (projects +${c.projectsCreated} −${c.projectsDeleted})`,
    `kills ${c.kills}, cuts: Redis ${c.redisCuts}, PostgreSQL ${c.postgresCuts}`,
    `5xx other than 503: ${c.serverErrors}, non-JSON bodies: ${c.nonJson}`,
    `drift ${report.drift.length}, stale Relay views ${report.staleViews.length}`,
    report.violations.length === 0 ? 'no violations' : `VIOLATIONS (${report.violations.length}):\n  ${report.violations.join('\n  ')}`,
  ].join('\n');
}
