import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Container } from '../../src/container';
import { createApp } from '../../src/http/app';
import { closeServer, listen } from '../../src/http/server';
import { startWorkers, type RunningWorkers, type WorkerOptions } from '../../src/jobs/worker-runtime';
import { testContainer } from './harness';
import { TestRelay } from './relay-client';

export interface TestServer {
  container: Container;
  url: string;
  /** A relay whose key is whitelisted (internal) and that is registered. */
  internalRelay(): Promise<TestRelay>;
  close(): Promise<void>;
}

/**
 * The API (and, unless `workers: false`, the build/invalidation workers) in this process, on a
 * real port, with its own database and Redis prefix. Internal relays are whitelisted by key.
 */
export async function startTestServer(env: Record<string, string> = {}, options: { workers?: boolean | WorkerOptions } = {}): Promise<TestServer> {
  const relays: TestRelay[] = [];
  // Whitelisted keys are fixed at start-up, so the test relays' keys are made first.
  const whitelisted = Array.from({ length: 4 }, () => new TestRelay('http://placeholder'));
  const container = await testContainer({ RELAY_WHITELIST_PK: whitelisted.map((r) => r.publicKey).join(','), ...env });
  const server: Server = await listen(createApp(container), 0, '127.0.0.1');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const workers: RunningWorkers | null = options.workers === false ? null : startWorkers(container, options.workers === true ? {} : options.workers);
  return {
    container,
    url,
    async internalRelay() {
      const template = whitelisted[relays.length];
      if (!template) throw new Error('only 4 whitelisted relays per test server');
      const relay = new TestRelay(url, { secret: template.secret, relayId: template.relayId });
      await relay.register();
      relays.push(relay);
      return relay;
    },
    async close() {
      await closeServer(server, 1000);
      await workers?.close();
      await container.close();
    },
  };
}
