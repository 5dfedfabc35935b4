import { createServer, type Server } from 'node:http';
import type { Express } from 'express';

/**
 * Listens with keep-alive settings suited to Relay, which pools connections and does not retry a
 * failed config request: idle sockets stay open longer than common client idle timeouts.
 */
export async function listen(app: Express, port: number, host?: string): Promise<Server> {
  const server = createServer(app);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes idle sockets. */
export async function closeServer(server: Server, graceMs = 10_000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
}
