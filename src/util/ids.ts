import { randomFillSync } from 'node:crypto';

/**
 * Random bytes drawn from the CSPRNG a pool at a time (the technique of
 * Node's `randomUUID` cache): one `randomFillSync` per 4 KiB instead of a
 * `randomBytes` call and a Buffer per id. A request channel draws a reply
 * token per request; servers, clients, brokers and bridge halves draw their
 * ids and secrets here.
 */
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let used = POOL_BYTES;

/**
 * `length` random characters of `alphabet` (at most 256 characters; one
 * whose length divides 256 gives every character the same chance).
 */
export function randomString(alphabet: string, length: number): string {
  if (alphabet.length === 0 || alphabet.length > 256) {
    throw new RangeError(`an alphabet of 1 to 256 characters is needed (got ${alphabet.length})`);
  }
  let text = '';
  for (let i = 0; i < length; i++) {
    if (used === POOL_BYTES) {
      randomFillSync(pool);
      used = 0;
    }
    text += alphabet[pool[used++]! % alphabet.length];
  }
  return text;
}

const ID_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A random id of `length` lowercase letters and digits, usable as a subject token. */
export function newId(length = 16): string {
  return randomString(ID_ALPHABET, length);
}
