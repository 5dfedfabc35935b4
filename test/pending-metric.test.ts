import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed, type SeedResult } from '../src/db/seed';
import { startWorkers, type RunningWorkers } from '../src/jobs/worker-runtime';
import { sumMetric } from '../bench/prometheus';
import type { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';

/**
 * `relay_projectconfig_pending_seconds`: the metric behind the "keys pending for more than 10 s"
 * alert. It must count the time a key waited in the queue, not only the build itself.
 */
describe('relay_projectconfig_pending_seconds', () => {
  let server: TestServer;
  let workers: RunningWorkers | null = null;
  let relay: TestRelay;
  let seeded: SeedResult;
  const WAIT_MS = 700;

  beforeAll(async () => {
    // No workers yet: the first poll's build job waits in the queue.
    server = await startTestServer({}, { workers: false });
    relay = await server.internalRelay();
    seeded = await seed(server.container.orm.em.fork(), { orgs: 1, projects: 3, keys: 1 });
  });
  afterAll(async () => {
    await workers?.close();
    await server.close();
  });

  it('observes per key written how long it was pending, queue wait included', async () => {
    const metricsText = async () => (await fetch(`${server.url}/metrics`)).text();
    expect(sumMetric(await metricsText(), 'relay_projectconfig_pending_seconds_count')).toBe(0);

    const first = await relay.projectConfigs({ publicKeys: seeded.publicKeys });
    expect(first.body.pending?.sort()).toEqual([...seeded.publicKeys].sort());
    await new Promise((r) => setTimeout(r, WAIT_MS));
    workers = startWorkers(server.container);
    const { configs } = await relay.pollConfigs(seeded.publicKeys);
    expect(configs.size).toBe(3);

    const text = await metricsText();
    // One observation per key, each at least the time the job sat in the queue.
    expect(sumMetric(text, 'relay_projectconfig_pending_seconds_count')).toBe(3);
    expect(sumMetric(text, 'relay_projectconfig_pending_seconds_sum')).toBeGreaterThanOrEqual((3 * WAIT_MS) / 1000);
    expect(sumMetric(text, 'relay_projectconfig_pending_seconds_bucket', { le: '0.5' })).toBe(0);
    expect(sumMetric(text, 'relay_projectconfig_pending_seconds_bucket', { le: '10' })).toBe(3);
  });
});
