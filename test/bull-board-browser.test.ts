import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_KIND_NAMES, jobKind } from '../src/jobs/registry';
import { startTestServer, type TestServer } from './support/server';

/**
 * Bull Board in a real browser (Debian's Chromium, which `.ci/run` installs when missing), as an
 * operator opens it: Basic auth, the queues of the job registry, and the history of finished jobs.
 */

const CHROMIUM = '/usr/bin/chromium';
const USER = 'ops';
const PASSWORD = 'board-s3cret';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
  server = await startTestServer({ BULL_BOARD_USER: USER, BULL_BOARD_PASSWORD: PASSWORD });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('Bull Board in a browser', () => {
  it('logs in with Basic auth, shows every queue, and after a Relay poll shows the completed build job', async () => {
    const context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD } });
    try {
      const page = await context.newPage();
      const response = await page.goto(`${server.url}/admin/queues`);
      expect(response?.status()).toBe(200);
      for (const name of JOB_KIND_NAMES) await page.getByText(jobKind(name).queue, { exact: true }).first().waitFor({ timeout: 15_000 });

      // A poll for an unknown key: a build job runs and writes {"disabled":true}.
      const relay = await server.internalRelay();
      const key = 'ab'.repeat(16);
      const { configs } = await relay.pollConfigs([key], { timeoutMs: 10_000 });
      expect(configs.get(key)).toEqual({ disabled: true });

      await page.goto(`${server.url}/admin/queues/queue/relay-config-build?status=completed`);
      // The job's name says what it built (finished jobs are kept per JOBS_KEEP_COMPLETED_S).
      await page.getByText(`build 1 key ${key.slice(0, 8)}…`).first().waitFor({ timeout: 15_000 });
    } finally {
      await context.close();
    }
  });

  it('answers 401 without credentials', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      // Chromium turns a Basic challenge it cannot answer into a navigation error: read the response itself.
      const answered = page.waitForResponse(`${server.url}/admin/queues`);
      await page.goto(`${server.url}/admin/queues`).catch(() => undefined);
      const response = await answered;
      expect(response.status()).toBe(401);
      expect(response.headers()['www-authenticate']).toContain('Basic');
      // The body the browser received (not the page, which Chromium may still be replacing with its error page).
      expect(await response.text()).not.toContain('relay-config-build');
    } finally {
      await context.close();
    }
  });
});
