import type { Container } from '../../src/container';

/**
 * What a processing Relay with `processing.redis` reads: `GET <prefix>relayconfig:<publicKey>` (the
 * config JSON) and the `.rev` key, straight from Redis. Tests look at the cache only this way —
 * through the public layout, never through the service's own interface.
 */
export async function storedConfigs(container: Container, publicKeys: readonly string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  if (publicKeys.length === 0) return found;
  // One GET per key, as Relay reads them (an MGET would span slots on a cluster).
  const values = await Promise.all(publicKeys.map((k) => container.redis.get(container.layout.config(k))));
  publicKeys.forEach((publicKey, i) => {
    const value = values[i];
    if (value !== null && value !== undefined) found.set(publicKey, value);
  });
  return found;
}

/** The stored config of one key, parsed; null when none is stored. */
export async function storedConfig(container: Container, publicKey: string): Promise<any> {
  const text = (await storedConfigs(container, [publicKey])).get(publicKey);
  return text === undefined ? null : JSON.parse(text);
}

/** The stored rev of one key, or null. */
export async function storedRev(container: Container, publicKey: string): Promise<string | null> {
  return container.redis.get(container.layout.rev(publicKey));
}
