import { readFile, stat, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { TrustedRelayKey } from '../src/db/entities';
import { startWorkers, type RunningWorkers } from '../src/jobs/worker-runtime';
import { generateRelayKeyPair } from '../src/relay-auth/keys';
import { createOrgWithProject, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';
import { TestRelay } from './support/relay-client';
import { runCli } from './support/cli';

/**
 * Trusting a relay at run time, as an operator does it: credentials from the CLI, a Relay that
 * registers and gets configs with no restart, and a 403 within seconds of `relays untrust`.
 */

let container: Container;
let api: ApiClient;
let publicKey: string;
let dir: string;
let workers: RunningWorkers;

beforeAll(async () => {
  // Closed registration: only internal relays may register, so trust is what lets the Relay in.
  container = await testContainer({ RELAY_OPEN_REGISTRATION: 'false' });
  Object.assign(process.env, {
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: container.settings.databaseUrl,
    REDIS_URL: container.settings.redisUrl,
    REDIS_KEY_PREFIX: container.settings.redisKeyPrefix,
    RELAY_OPEN_REGISTRATION: 'false',
  });
  const { token } = await userWithToken(container);
  api = await startApi(container, token);
  ({ key: { id: publicKey } } = await createOrgWithProject(api, token, 'trust'));
  dir = await mkdtemp(join(tmpdir(), 'relay-credentials-'));
  workers = startWorkers(container, { queues: ['build'] });
});

afterAll(async () => {
  await workers.close();
  await api.close();
  await container.close();
});

const cli = runCli;

/** Retries `check` until it stops throwing, for at most `timeoutMs`. */
async function within(timeoutMs: number, check: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const refusals = async (reason: string) => (await container.metrics.relayAuthRefusals.get()).values.filter((v) => v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0);

describe('relays credentials, trust and untrust', () => {
  it('a Relay with credentials from `relays credentials --trust` registers and gets configs without a restart; after `relays untrust` it gets 403 within seconds', async () => {
    const file = join(dir, 'credentials.json');
    const made = await cli('relays', 'credentials', '--out', file, '--trust', '--name', 'edge-1');
    expect(made).toMatchObject({ code: 0, stderr: '' });
    const printed = made.stdout.trim();

    // Relay's own credentials.json, readable by its owner only.
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const credentials = JSON.parse(await readFile(file, 'utf8'));
    expect(Object.keys(credentials).sort()).toEqual(['id', 'public_key', 'secret_key']);
    expect(credentials.public_key).toBe(printed);
    expect(credentials.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await container.orm.em.fork().findOne(TrustedRelayKey, { publicKey: printed })).toMatchObject({ name: 'edge-1' });

    const relay = new TestRelay(api.baseUrl, { relayId: credentials.id, secret: credentials.secret_key });
    expect(relay.publicKey).toBe(printed);
    // The API process never restarted: the trusted list reached it through the outbox and Redis.
    await within(5000, () => relay.register());
    const { configs } = await relay.pollConfigs([publicKey], { timeoutMs: 10_000 });
    expect(configs.get(publicKey)).toMatchObject({ disabled: false });

    const listed = JSON.parse((await cli('relays', 'list')).stdout);
    expect(listed).toEqual([
      expect.objectContaining({ relayId: credentials.id, publicKey: printed, source: 'registered', trustedBy: 'trusted-list', lastConfigFetch: { at: expect.any(String), internalBy: 'trusted-list' } }),
    ]);

    const before = await refusals('not_internal');
    expect(await cli('relays', 'untrust', printed)).toMatchObject({ code: 0, stdout: `Untrusted relay key ${printed}\n` });
    const startedAt = Date.now();
    await within(5000, async () => {
      const res = await relay.projectConfigs({ publicKeys: [publicKey] });
      expect(res.status).toBe(403);
      expect(res.body).toBe('Relay unauthorized for config information');
    });
    expect(Date.now() - startedAt).toBeLessThan(5000);
    // The refusal is explained to the operator, the Relay still sees Sentry's body.
    expect(await refusals('not_internal')).toBeGreaterThan(before);
    // And every request is counted by route pattern and status (a 403 or 503 storm is visible).
    const requests = (await container.metrics.httpRequests.get()).values;
    expect(requests.find((v) => v.labels.route === '/api/0/relays/projectconfigs/' && v.labels.status === '403')?.value).toBeGreaterThan(0);
    expect(requests.find((v) => v.labels.route === '/api/0/relays/projectconfigs/' && v.labels.status === '200')?.value).toBeGreaterThan(0);
    expect(JSON.parse((await cli('relays', 'list')).stdout)[0].trustedBy).toBeNull();
  });

  it('refuses to overwrite an existing credentials file, and trusts nothing then', async () => {
    const file = join(dir, 'taken.json');
    await writeFile(file, 'keep me');
    const res = await cli('relays', 'credentials', '--out', file, '--trust');
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/exists: refusing to overwrite/);
    expect(await readFile(file, 'utf8')).toBe('keep me');
    expect(await container.orm.em.fork().count(TrustedRelayKey, {})).toBe(0); // the first test untrusted its key
  });

  it('without --trust only writes the file; trust and untrust check their argument', async () => {
    const file = join(dir, 'plain.json');
    const res = await cli('relays', 'credentials', '--out', file);
    expect(res.code).toBe(0);
    expect(await container.orm.em.fork().count(TrustedRelayKey, { publicKey: res.stdout.trim() })).toBe(0);
    expect((await cli('relays', 'credentials')).stderr).toBe('error: --out FILE is required\n');
    expect((await cli('relays', 'trust', 'not-a-key')).stderr).toBe('error: give a relay public key: 43 characters of unpadded base64url\n');
    const key = generateRelayKeyPair().public;
    expect(await cli('relays', 'untrust', key)).toMatchObject({ code: 1, stderr: `error: The key ${key} is not on the trusted list\n` });
    expect(await cli('relays', 'trust', key)).toMatchObject({ code: 0, stdout: `Trusted relay key ${key}\n` });
    expect(await cli('relays', 'trust', key, '--name', 'renamed')).toMatchObject({ code: 0, stdout: `Relay key ${key} was already trusted (name updated)\n` });
    await within(5000, async () => expect((await container.trustedKeys.current()).get(key)).toBe('renamed'));
  });

  it('takes a key that begins with "-" (one in 64 do) as the key, not as options', async () => {
    let key = generateRelayKeyPair().public;
    while (!key.startsWith('-')) key = generateRelayKeyPair().public;
    expect(await cli('relays', 'trust', key, '--name', 'dashed')).toMatchObject({ code: 0, stdout: `Trusted relay key ${key}\n` });
    expect(await container.orm.em.fork().count(TrustedRelayKey, { publicKey: key, name: 'dashed' })).toBe(1);
    // As an option's value too: the name given here is itself such a key.
    expect(await cli('relays', 'trust', key, '--name', key)).toMatchObject({ code: 0 });
    expect(await container.orm.em.fork().count(TrustedRelayKey, { publicKey: key, name: key })).toBe(1);
    expect(await cli('relays', 'untrust', key)).toMatchObject({ code: 0 });
    expect(await container.orm.em.fork().count(TrustedRelayKey, { publicKey: key })).toBe(0);
    // Anything else that begins with "-" is still an option, and an unknown one is refused.
    expect(await cli('relays', 'untrust', '-x')).toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: Unknown option '-x'/) });
  });
});

describe('registration and signature refusals are counted with a reason', () => {
  it('unknown relay, bad signature, signature too old, not allowed to register', async () => {
    const stranger = new TestRelay(api.baseUrl);
    const unknown = await refusals('unknown_relay');
    expect((await stranger.projectConfigs({ publicKeys: [] })).status).toBe(401);
    expect(await refusals('unknown_relay')).toBe(unknown + 1);

    const notAllowed = await refusals('not_allowed_to_register');
    await expect(stranger.register()).rejects.toThrow(/403/);
    expect(await refusals('not_allowed_to_register')).toBe(notAllowed + 1);

    // A trusted relay, registered, then signing badly or with an old clock.
    const trusted = new TestRelay(api.baseUrl);
    expect((await cli('relays', 'trust', trusted.publicKey)).code).toBe(0);
    await within(5000, () => trusted.register());
    const old = await refusals('signature_too_old');
    expect((await trusted.post('/api/0/relays/projectconfigs/?version=3', { publicKeys: [] }, { signedAt: new Date(Date.now() - 3600_000) })).status).toBe(401);
    expect(await refusals('signature_too_old')).toBe(old + 1);
    const bad = await refusals('bad_signature');
    const impostor = new TestRelay(api.baseUrl, { relayId: trusted.relayId });
    expect((await impostor.projectConfigs({ publicKeys: [] })).status).toBe(401);
    expect(await refusals('bad_signature')).toBe(bad + 1);
  });
});
