import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { parseRelayPublicKey, verifyRelaySignature } from '../src/relay-auth/keys';

/**
 * The hot path's floor: the least a correct answer needs — verify the same Ed25519 signature, one
 * Redis MGET of the requested keys, write the stored bytes. No claims, no validation, no metrics.
 * The service's hot-path throughput is reported against it. With `--express` the same handler
 * runs inside Express 5 (one route, a raw body), which separates Express's own cost from ours.
 * With `--revisions` it answers the request shape Relay sends in steady state (`revisions`
 * filled in): one MGET of the revs, `unchanged` for the keys whose rev matches, one MGET of the
 * configs of the others — the same two reads the service makes.
 *
 * argv: <port> <redis url> <key prefix> <relay id> <relay public key> [--express | --revisions]
 */
const [portText, redisUrl, prefix, relayId, publicKeyText, mode] = process.argv.slice(2);
const publicKey = parseRelayPublicKey(publicKeyText ?? '');
if (!portText || !redisUrl || prefix === undefined || !relayId || !publicKey) {
  process.stderr.write('usage: floor-server <port> <redis url> <key prefix> <relay id> <relay public key> [--express | --revisions]\n');
  process.exit(2);
}
const redis = new Redis(redisUrl, { enableOfflineQueue: true });

async function answer(body: Buffer, id: unknown, signature: unknown, res: ServerResponse): Promise<void> {
  if (id !== relayId || typeof signature !== 'string' || typeof verifyRelaySignature(publicKey!, body, signature, 300) === 'string') {
    res.writeHead(401).end();
    return;
  }
  const request = JSON.parse(body.toString('utf8')) as { publicKeys: string[]; revisions?: (string | null)[] };
  let keys = request.publicKeys;
  const unchanged: string[] = [];
  if (mode === '--revisions' && request.revisions) {
    const revisions = request.revisions;
    const revs = await redis.mget(keys.map((k) => `${prefix}relayconfig:${k}.rev`));
    keys = keys.filter((k, i) => {
      if (revisions[i] === null || revs[i] !== revisions[i]) return true;
      unchanged.push(k);
      return false;
    });
  }
  const values = keys.length > 0 ? await redis.mgetBuffer(keys.map((k) => `${prefix}relayconfig:${k}`)) : [];
  const parts: Buffer[] = [Buffer.from('{"configs":{')];
  keys.forEach((k, i) => {
    const value = values[i];
    if (value) parts.push(Buffer.from(`${parts.length > 1 ? ',' : ''}"${k}":`, 'latin1'), value);
  });
  parts.push(Buffer.from(unchanged.length > 0 ? `},"pending":[],"unchanged":${JSON.stringify(unchanged)}}` : '},"pending":[]}'));
  const reply = Buffer.concat(parts);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': reply.length }).end(reply);
}

function readBody(req: IncomingMessage, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => done(Buffer.concat(chunks)));
}

let server;
if (mode === '--express') {
  const app = express();
  app.set('etag', false);
  app.post('/api/0/relays/projectconfigs/', express.raw({ type: () => true, limit: '1mb' }), (req, res) => answer(req.body as Buffer, req.get('x-sentry-relay-id'), req.get('x-sentry-relay-signature'), res));
  server = createServer(app);
} else {
  server = createServer((req, res) => readBody(req, (body) => void answer(body, req.headers['x-sentry-relay-id'], req.headers['x-sentry-relay-signature'], res)));
}
server.keepAliveTimeout = 65_000;
server.listen(Number(portText), '127.0.0.1', () => process.stdout.write('floor listening\n'));
process.on('SIGTERM', () => {
  server.close();
  redis.disconnect();
  process.exit(0);
});
