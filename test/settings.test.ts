import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../src/config/settings';

describe('loadSettings', () => {
  it('applies the documented defaults', () => {
    const s = loadSettings({});
    expect(s).toMatchObject({
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
      redisUrl: 'redis://127.0.0.1:6379/0',
      redisKeyPrefix: '',
      port: 3000,
      relayWhitelistPk: [],
      relayStaticAuth: {},
      internalSystemIps: [],
      trustProxy: false,
      relayOpenRegistration: true,
      relayAllowTrusted: false,
      allowedOrigins: [],
      configCacheTtlS: 3600,
      buildClaimTtlS: 10,
      buildBatchSize: 500,
      workerConcurrency: 4,
      invalidationDelayMs: 500,
      bullBoardUser: '',
      bullBoardPassword: '',
      bullBoardReadOnly: true,
      logLevel: 'info',
      systemSecretKey: null,
      relayRegisterRateLimit: 300,
      relayPruneAfterDays: 30,
    });
  });

  it('parses lists, booleans, JSON and CIDRs', () => {
    const s = loadSettings({
      RELAY_WHITELIST_PK: 'JOaR2bHZ31zYjFojC7UhPOidzfT3qOQgT9WEBw1JAKU, dXq9IiKDLgma0J8dLVITOdkpaU8mPZPJj18t4HCKTfs',
      RELAY_STATIC_AUTH: '{"29308cac-9783-40e9-98ac-b5503dffe3a4":{"public_key":"dXq9IiKDLgma0J8dLVITOdkpaU8mPZPJj18t4HCKTfs","internal":true}}',
      INTERNAL_SYSTEM_IPS: '10.0.0.0/8,fd00::/8,127.0.0.1',
      TRUST_PROXY: 'true',
      ALLOWED_ORIGINS: 'https://a.example,,https://b.example',
    });
    expect(s.relayWhitelistPk).toHaveLength(2);
    expect(s.relayStaticAuth['29308cac-9783-40e9-98ac-b5503dffe3a4']).toEqual({ publicKey: 'dXq9IiKDLgma0J8dLVITOdkpaU8mPZPJj18t4HCKTfs', internal: true });
    expect(s.internalSystemIps).toEqual(['10.0.0.0/8', 'fd00::/8', '127.0.0.1']);
    expect(s.trustProxy).toBe(1);
    expect(s.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
  });

  it('reads TRUST_PROXY as no proxy, a hop count or the proxies\' addresses, never "every hop"', () => {
    expect(loadSettings({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadSettings({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadSettings({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::1' }).trustProxy).toEqual(['loopback', '10.0.0.0/8', 'fd00::1']);
    for (const bad of ['yes', '11', '10.0.0.0/33', 'loopback,nowhere']) expect(() => loadSettings({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY:/);
  });

  it('names every bad key in one error', () => {
    let error: unknown;
    try {
      loadSettings({ PORT: 'eighty', TRUST_PROXY: 'yes', INTERNAL_SYSTEM_IPS: '10.0.0.0/33', RELAY_WHITELIST_PK: 'short', REDIS_URL: 'http://x', LOG_LEVEL: 'loud' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SettingsError);
    const message = (error as Error).message;
    for (const key of ['PORT', 'TRUST_PROXY', 'INTERNAL_SYSTEM_IPS', 'RELAY_WHITELIST_PK', 'REDIS_URL', 'LOG_LEVEL']) expect(message).toContain(`${key}:`);
    expect((error as SettingsError).problems).toHaveLength(6);
  });

  it('has no built-in system secret in any environment: unset means generated and kept in PostgreSQL', () => {
    for (const NODE_ENV of ['development', 'test', 'production']) {
      expect(loadSettings({ NODE_ENV }).systemSecretKey).toBeNull();
      expect(loadSettings({ NODE_ENV, SYSTEM_SECRET_KEY: '' }).systemSecretKey).toBeNull();
    }
    expect(loadSettings({ NODE_ENV: 'production', SYSTEM_SECRET_KEY: 'x'.repeat(40) }).systemSecretKey).toBe('x'.repeat(40));
  });

  it('reads the registration rate limit and the relay prune age, 0 turning either off', () => {
    expect(loadSettings({ RELAY_REGISTER_RATE_LIMIT: '0', RELAY_PRUNE_AFTER_DAYS: '0' })).toMatchObject({ relayRegisterRateLimit: 0, relayPruneAfterDays: 0 });
    expect(loadSettings({ RELAY_REGISTER_RATE_LIMIT: '1000', RELAY_PRUNE_AFTER_DAYS: '7' })).toMatchObject({ relayRegisterRateLimit: 1000, relayPruneAfterDays: 7 });
    expect(() => loadSettings({ RELAY_REGISTER_RATE_LIMIT: '-1', RELAY_PRUNE_AFTER_DAYS: 'a month' })).toThrow(/RELAY_REGISTER_RATE_LIMIT:[\s\S]*RELAY_PRUNE_AFTER_DAYS:/);
  });

  it('takes SYSTEM_URL_PREFIX as an absolute http(s) URL without its trailing slash, defaulting to localhost and PORT', () => {
    expect(loadSettings({}).systemUrlPrefix).toBe('http://localhost:3000');
    expect(loadSettings({ PORT: '8080' }).systemUrlPrefix).toBe('http://localhost:8080');
    expect(loadSettings({ SYSTEM_URL_PREFIX: 'https://sentry.example.com/' }).systemUrlPrefix).toBe('https://sentry.example.com');
    expect(loadSettings({ SYSTEM_URL_PREFIX: 'https://example.com/sentry//' }).systemUrlPrefix).toBe('https://example.com/sentry');
    for (const bad of ['sentry.example.com', '/relative', 'ftp://example.com', 'https://example.com/?a=1', 'https://u:p@example.com']) {
      expect(() => loadSettings({ SYSTEM_URL_PREFIX: bad }), bad).toThrow(/SYSTEM_URL_PREFIX: must be an absolute http/);
    }
  });

  it('reads Redis Cluster seeds as host:port or redis:// / rediss:// URLs, and refuses a prefix with a hash tag', () => {
    expect(loadSettings({}).redisClusterNodes).toEqual([]);
    expect(loadSettings({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis://:s%40cret@r2.example:7001,rediss://app:pw@r3.example:7002/' }).redisClusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000, tls: false },
      { host: 'r2.example', port: 7001, password: 's@cret', tls: false },
      { host: 'r3.example', port: 7002, username: 'app', password: 'pw', tls: true },
    ]);
    for (const bad of ['10.0.0.1', 'http://r1:7000', 'redis://r1:7000/2', 'r1:notaport']) {
      expect(() => loadSettings({ REDIS_CLUSTER_NODES: bad }), bad).toThrow(/REDIS_CLUSTER_NODES:/);
    }
    expect(() => loadSettings({ REDIS_KEY_PREFIX: '{tenant}:' })).toThrow(/REDIS_KEY_PREFIX: must not contain \{ or \}/);
    expect(loadSettings({ REDIS_KEY_PREFIX: 'tenant:' }).redisKeyPrefix).toBe('tenant:');
  });
});
