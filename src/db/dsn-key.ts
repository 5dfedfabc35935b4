import { randomBytes } from 'node:crypto';

/** A new 32-character lower-case hex key, the form of DSN public and secret keys. */
export function newDsnKey(): string {
  return randomBytes(16).toString('hex');
}
