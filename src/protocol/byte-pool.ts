/** Bytes of each pool that copies are cut from. */
export const POOL_BYTES = 8 * 1024;
/** Longest copy cut from a pool; a longer one gets a buffer of its own. */
export const MAX_POOLED_BYTES = POOL_BYTES / 2;
/**
 * Shortest copy cut from a pool. V8 keeps a typed array this short in its
 * heap, which is as cheap as a pool; a longer one gets a buffer outside it,
 * which costs 1–3 µs to make and to collect.
 */
export const MIN_POOLED_BYTES = 65;
/** Copies start at a multiple of this. */
const ALIGN = 8;

let pool = new ArrayBuffer(POOL_BYTES);
let used = 0;

/**
 * A copy of `bytes` that owns its content: later writes to `bytes` do not
 * reach it. One of 65 bytes to 4 KiB is cut from a shared 8 KiB buffer, as
 * Node cuts its small `Buffer`s (`Buffer.allocUnsafe`), instead of a buffer
 * of its own per copy: its `buffer` is then the pool's, so read it through
 * `byteOffset` and `byteLength`, as every view. A copy kept keeps its pool's
 * 8 KiB alive, so it is for bytes about to be sent, not for caches.
 */
export function pooledCopy(bytes: Uint8Array): Uint8Array {
  const size = bytes.length;
  // Not `bytes.slice()`: a Buffer's `slice` is a view, not a copy.
  if (size < MIN_POOLED_BYTES || size > MAX_POOLED_BYTES)
    return Uint8Array.prototype.slice.call(bytes);
  if (used + size > POOL_BYTES) {
    pool = new ArrayBuffer(POOL_BYTES);
    used = 0;
  }
  const copy = new Uint8Array(pool, used, size);
  copy.set(bytes);
  used += (size + ALIGN - 1) & -ALIGN;
  return copy;
}
