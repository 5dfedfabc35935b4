import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiToken } from '../src/admin/auth';
import type { Container } from '../src/container';
import { ApiToken, Relay, User, UserPermission } from '../src/db/entities';
import { generateRelayKeyPair } from '../src/relay-auth/keys';
import { createOrgWithProject, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';
import { runCli } from './support/cli';

let container: Container;
let api: ApiClient;
let env: Record<string, string>;

beforeAll(async () => {
  container = await testContainer({ INVALIDATION_DELAY_MS: '60000' });
  // The CLI reads its settings from the environment, as it does for an operator.
  env = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: container.settings.databaseUrl,
    REDIS_URL: container.settings.redisUrl,
    REDIS_KEY_PREFIX: container.settings.redisKeyPrefix,
    INVALIDATION_DELAY_MS: '60000',
  };
  Object.assign(process.env, env);
  api = await startApi(container);
});

afterAll(async () => {
  await api.close();
  await container.close();
});

/** Runs the CLI in this process, as `npm run -s cli -- …` would, capturing its output. */
const cli = runCli;

const em = () => container.orm.em.fork();

describe('createuser and tokens', () => {
  it('creates a user, and a token that works against the API; revoking it makes the API answer 401', async () => {
    const created = await cli('createuser', '--email', 'Ops@Example.com', '--superuser', '--verified', '--name', 'Ops');
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toMatch(/^Created user `ops@example.com` \(id \d+, superuser\)\n$/);
    const user = await em().findOneOrFail(User, { email: 'ops@example.com' });
    expect(user).toMatchObject({ isSuperuser: true, emailVerified: true, name: 'Ops' });

    const token = await cli('tokens', 'create', '--user', 'ops@example.com', '--scopes', 'org:read,org:write,project:read');
    expect(token.code).toBe(0);
    expect(token.stdout).toMatch(/^sntryu_[0-9a-f]{64}\n$/);
    const value = token.stdout.trim();
    const row = await em().findOneOrFail(ApiToken, { hashedToken: hashApiToken(value) });
    expect(row.scopes).toEqual(['org:read', 'org:write', 'project:read']);
    expect(row.tokenLastCharacters).toBe(value.slice(-4));

    const me = await api.get('/api/0/', value);
    expect(me.body.user.email).toBe('ops@example.com');
    expect(me.body.auth.scopes).toEqual(['org:read', 'org:write', 'project:read']);

    const revoked = await cli('tokens', 'revoke', value);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked token ending in ${value.slice(-4)}\n` });
    expect((await api.get('/api/0/', value)).status).toBe(401);
    expect(await cli('tokens', 'revoke', value)).toMatchObject({ code: 1, stderr: 'error: No such token (already revoked?)\n' });
  });

  it('refuses bad input with a message on stderr and exit 1', async () => {
    await cli('createuser', '--email', 'dup@example.com');
    expect(await cli('createuser', '--email', 'dup@example.com')).toMatchObject({ code: 1, stdout: '', stderr: 'error: User `dup@example.com` already exists\n' });
    expect(await cli('createuser', '--email', 'not-an-email')).toMatchObject({ code: 1, stderr: 'error: --email must be an e-mail address\n' });
    expect(await cli('createuser')).toMatchObject({ code: 1, stderr: 'error: --email is required\n' });
    expect((await cli('tokens', 'create', '--user', 'dup@example.com', '--scopes', 'org:read,org:own')).stderr).toContain('unknown scope "org:own"');
    expect(await cli('tokens', 'create', '--user', 'ghost@example.com', '--scopes', 'org:read')).toMatchObject({ code: 1, stderr: 'error: User `ghost@example.com` does not exist\n' });
    expect((await cli('tokens', 'revoke', 'abc')).code).toBe(1);
    expect((await cli('tokens', 'create', '--user', 'dup@example.com', '--bogus')).code).toBe(1);
  });
});

describe('permissions', () => {
  it('lists, adds and removes permissions of a superuser', async () => {
    await cli('createuser', '--email', 'root@example.com', '--superuser');
    expect(await cli('permissions', 'add', '--user', 'root@example.com', '--permission', 'broadcasts.admin')).toMatchObject({
      code: 0,
      stdout: 'Added permission `broadcasts.admin` to `root@example.com`\n',
    });
    await cli('permissions', 'add', '--user', 'root@example.com', '--permission', 'users.admin');
    expect((await cli('permissions', 'add', '--user', 'root@example.com', '--permission', 'users.admin')).stderr).toBe('error: User `root@example.com` already has permission `users.admin`\n');
    expect(await cli('permissions', 'list', '--user', 'root@example.com')).toMatchObject({ code: 0, stdout: 'broadcasts.admin\nusers.admin\n' });
    expect((await cli('permissions', 'remove', '--user', 'root@example.com', '--permission', 'users.admin')).stdout).toBe('Removed permission `users.admin` from `root@example.com`\n');
    expect((await cli('permissions', 'remove', '--user', 'root@example.com', '--permission', 'users.admin')).stderr).toBe('error: User `root@example.com` does not have permission `users.admin`\n');
    const rows = await em().find(UserPermission, { user: { email: 'root@example.com' } });
    expect(rows.map((r) => r.permission)).toEqual(['broadcasts.admin']);
  });

  it('refuses, for each subcommand, a user who is not a superuser', async () => {
    await cli('createuser', '--email', 'plain@example.com');
    for (const args of [
      ['permissions', 'list', '--user', 'plain@example.com'],
      ['permissions', 'add', '--user', 'plain@example.com', '--permission', 'users.admin'],
      ['permissions', 'remove', '--user', 'plain@example.com', '--permission', 'users.admin'],
    ]) {
      const result = await cli(...args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe('error: User `plain@example.com` does not have superuser status\n');
    }
    expect(await em().count(UserPermission, { user: { email: 'plain@example.com' } })).toBe(0);
  });
});

describe('relays', () => {
  it('lists registered relays as JSON and removes one from PostgreSQL and the request-path cache', async () => {
    const relayId = '6b7d15b8-cee2-4354-9fee-dae7ef43e434';
    const publicKey = generateRelayKeyPair().public;
    const fork = em();
    fork.create(Relay, { relayId, publicKey });
    await fork.flush();
    await container.relayKeys.publish(relayId, publicKey);

    const list = await cli('relays', 'list');
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([
      { relayId, publicKey, source: 'registered', firstSeen: expect.any(String), lastSeen: expect.any(String), versions: [], trustedBy: null, lastConfigFetch: null },
    ]);

    expect(await cli('relays', 'remove', relayId)).toMatchObject({ code: 0, stdout: `Removed relay \`${relayId}\`\n` });
    expect(await em().count(Relay, { relayId })).toBe(0);
    expect(await container.redis.hget(container.layout.relayPublicKeys, relayId)).toBeNull();
    expect(JSON.parse((await cli('relays', 'list')).stdout)).toEqual([]);
    expect(await cli('relays', 'remove', relayId)).toMatchObject({ code: 1, stderr: `error: Relay \`${relayId}\` is not registered\n` });
    expect((await cli('relays', 'remove', 'nope')).stderr).toBe('error: give the relay id: a lower-case UUID\n');
  });
});

describe('configs invalidate', () => {
  it('enqueues an invalidation of an organization, a project or a key and says how many jobs it enqueued', async () => {
    const { token } = await userWithToken(container);
    const { key } = await createOrgWithProject(api, token, 'cli-inv');
    const jobs = async () => (await container.queues.invalidate.getJobs(['delayed', 'waiting'])).map((j) => j.data);

    expect(await cli('configs', 'invalidate', '--key', key.id)).toMatchObject({ code: 0, stdout: '1 invalidation job(s) enqueued\n' });
    expect(await cli('configs', 'invalidate', '--project', 'cli-inv/web')).toMatchObject({ code: 0, stdout: '1 invalidation job(s) enqueued\n' });
    expect(await cli('configs', 'invalidate', '--org', 'cli-inv')).toMatchObject({ code: 0, stdout: '1 invalidation job(s) enqueued\n' });
    const data = await jobs();
    expect(data.map((d) => [d.scope, d.trigger]).sort()).toEqual([
      ['key', 'cli'],
      ['organization', 'cli'],
      ['project', 'cli'],
    ]);
    expect(data.find((d) => d.scope === 'key')).toMatchObject({ publicKey: key.id });

    // While the organization's invalidation is pending, it covers its projects.
    expect((await cli('configs', 'invalidate', '--project', 'cli-inv/web')).stdout).toBe('0 invalidation job(s) enqueued (one covering this scope is already pending)\n');

    expect(await cli('configs', 'invalidate')).toMatchObject({ code: 1, stderr: 'error: give exactly one of --org SLUG, --project ORG/SLUG, --key PUBLIC_KEY, --all\n' });
    expect((await cli('configs', 'invalidate', '--org', 'a', '--key', key.id)).code).toBe(1);
    expect((await cli('configs', 'invalidate', '--org', 'nope')).stderr).toBe('error: Organization `nope` does not exist\n');
    expect((await cli('configs', 'invalidate', '--project', 'cli-inv')).stderr).toBe('error: --project takes ORG/SLUG, e.g. acme/web\n');
    expect((await cli('configs', 'invalidate', '--project', 'cli-inv/nope')).stderr).toBe('error: Project `cli-inv/nope` does not exist\n');
    expect((await cli('configs', 'invalidate', '--key', 'f'.repeat(32))).stderr).toBe(`error: Key \`${'f'.repeat(32)}\` does not exist\n`);
  });
});

describe('the built CLI', () => {
  it('runs as `node dist/src/cli/main.js` with the exit code and streams an operator sees', async () => {
    const run = promisify(execFile);
    await run('npm', ['run', '-s', 'build'], { cwd: process.cwd() });
    const childEnv = { PATH: process.env.PATH ?? '', ...env };
    const created = await run('node', ['dist/src/cli/main.js', 'createuser', '--email', 'spawned@example.com'], { env: childEnv });
    expect(created.stdout).toMatch(/^Created user `spawned@example.com` \(id \d+\)\n$/);
    const refused = await run('node', ['dist/src/cli/main.js', 'permissions', 'list', '--user', 'spawned@example.com'], { env: childEnv }).then(
      () => null,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(refused).toMatchObject({ code: 1, stdout: '', stderr: 'error: User `spawned@example.com` does not have superuser status\n' });
  }, 120_000);
});
