import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { addMember, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';

/** Sentry's own client (`@sentry/cli` 3.8.0, a native binary) against our API, as a user runs it. */

const SENTRY_CLI = join(process.cwd(), 'node_modules/.bin/sentry-cli');
const run = promisify(execFile);

let container: Container;
let api: ApiClient;
let token: string;
let home: string;

beforeAll(async () => {
  container = await testContainer();
  const releaseBot = await userWithToken(container, { email: 'release-bot@example.com', name: 'Release Bot', scopes: ['org:read', 'project:read', 'project:write'] });
  token = releaseBot.token;
  const botUser = releaseBot.user;
  const owner = await userWithToken(container);
  api = await startApi(container, owner.token);
  // Another user creates the organizations; the token user is made a member of two of them, not of the third.
  const bot = await userWithToken(container, { email: 'bot-owner@example.com' });
  for (const [slug, name] of [
    ['acme', 'Acme Corp'],
    ['globex', 'Globex'],
  ]) {
    expect((await api.post('/api/0/organizations/', { name, slug }, bot.token)).status).toBe(201);
  }
  await api.post('/api/0/organizations/', { name: 'Hidden', slug: 'hidden' });
  await api.post('/api/0/organizations/acme/teams/', { name: 'Frontend', slug: 'frontend' }, bot.token);
  for (const [slug, name] of [
    ['storefront', 'Storefront'],
    ['checkout-api', 'Checkout API'],
  ]) {
    expect((await api.post('/api/0/teams/acme/frontend/projects/', { name, slug, platform: 'javascript' }, bot.token)).status).toBe(201);
  }
  await addMember(container, 'acme', botUser.id);
  await addMember(container, 'globex', botUser.id);
  home = mkdtempSync(join(tmpdir(), 'sentry-cli-home-'));
});

afterAll(async () => {
  await api.close();
  await container.close();
  rmSync(home, { recursive: true, force: true });
});

/** Runs sentry-cli with only the environment a user would set (and an empty home: no ~/.sentryclirc). */
async function sentryCli(...args: string[]): Promise<string> {
  const { stdout } = await run(SENTRY_CLI, args, {
    env: { PATH: process.env.PATH ?? '', HOME: home, SENTRY_URL: `${api.baseUrl}/`, SENTRY_AUTH_TOKEN: token, SENTRY_DISABLE_UPDATE_CHECK: '1' },
    timeout: 30_000,
  });
  return stdout;
}

describe('sentry-cli 3.8.0', () => {
  it('`info` shows the token user e-mail and scopes', async () => {
    const out = await sentryCli('info');
    expect(out).toContain(`Sentry Server: ${api.baseUrl}`);
    expect(out).toContain('Method: Auth Token');
    expect(out).toContain('User: release-bot@example.com');
    expect(out).toMatch(/Scopes:\s+- org:read\s+- project:read\s+- project:write/);
  });

  it('`organizations list` shows the organizations the user is a member of', async () => {
    const out = await sentryCli('organizations', 'list');
    const rows = out.split('\n').filter((line) => line.startsWith('| ') && !line.includes('| ID '));
    expect(rows.map((line) => line.split('|').map((cell) => cell.trim())[3])).toEqual(['acme', 'globex']);
    expect(out).toContain('Acme Corp');
    expect(out).not.toContain('hidden');
  });

  it('`projects list --org` shows the projects with their team', async () => {
    const out = await sentryCli('projects', 'list', '--org', 'acme');
    const rows = out
      .split('\n')
      .filter((line) => line.startsWith('| ') && !line.includes('| ID '))
      .map((line) => line.split('|').map((cell) => cell.trim()).slice(2, 5));
    expect(rows).toEqual([
      ['checkout-api', 'Frontend', 'Checkout API'],
      ['storefront', 'Frontend', 'Storefront'],
    ]);
  });

  it('fails cleanly for an organization the user cannot see', async () => {
    const failure = await sentryCli('projects', 'list', '--org', 'hidden').then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).not.toBe(0);
    expect(failure?.stderr).toContain('organization not found');
  });
});
