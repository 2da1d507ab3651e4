import { createHash } from 'node:crypto';

/**
 * Names the registrant a broker's `reregister` ask is for without giving
 * its secret away: the first 16 characters of the base64url SHA-256 of the
 * secret the heartbeat or renewal came with. A holder heeds an ask whose
 * `holder` is its own tag (or that has none: a broker of an earlier
 * revision), so one forged with another secret cannot make it register
 * everything again.
 */
export function holderTag(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url').slice(0, 16);
}
