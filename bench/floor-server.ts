import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { parseRelayPublicKey, verifyRelaySignature } from '../src/relay-auth/keys';

/**
 * The hot path's floor: a bare `node:http` server that does the least a correct answer needs —
 * verify the same Ed25519 signature, one Redis MGET of the requested keys, write the stored bytes.
 * No Express, no claims, no validation. The service's hot-path throughput is reported against it.
 *
 * argv: <port> <redis url> <key prefix> <relay id> <relay public key>
 */
const [portText, redisUrl, prefix, relayId, publicKeyText] = process.argv.slice(2);
const publicKey = parseRelayPublicKey(publicKeyText ?? '');
if (!portText || !redisUrl || prefix === undefined || !relayId || !publicKey) {
  process.stderr.write('usage: floor-server <port> <redis url> <key prefix> <relay id> <relay public key>\n');
  process.exit(2);
}
const redis = new Redis(redisUrl, { enableOfflineQueue: true });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      const body = Buffer.concat(chunks);
      const signature = req.headers['x-sentry-relay-signature'];
      if (req.headers['x-sentry-relay-id'] !== relayId || typeof signature !== 'string' || typeof verifyRelaySignature(publicKey, body, signature, 300) === 'string') {
        res.writeHead(401).end();
        return;
      }
      const keys = (JSON.parse(body.toString('utf8')) as { publicKeys: string[] }).publicKeys;
      const values = await redis.mget(keys.map((k) => `${prefix}relayconfig:${k}`));
      const parts: string[] = [];
      keys.forEach((k, i) => {
        if (values[i] !== null) parts.push(`"${k}":${values[i]}`);
      });
      const text = `{"configs":{${parts.join(',')}},"pending":[]}`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    })();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(portText), '127.0.0.1', () => process.stdout.write('floor listening\n'));
process.on('SIGTERM', () => {
  server.close();
  redis.disconnect();
  process.exit(0);
});
