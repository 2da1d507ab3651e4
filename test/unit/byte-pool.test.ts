import { describe, expect, test } from 'vitest';
import {
  MAX_POOLED_BYTES,
  MIN_POOLED_BYTES,
  POOL_BYTES,
  pooledCopy,
} from '../../src/protocol/byte-pool.js';

const bytesOf = (size: number, seed: number) =>
  Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff);

describe('byte pool', () => {
  test('byte pool - a copy holds the bytes, and writes to the source after do not reach it', () => {
    for (const size of [
      0,
      1,
      MIN_POOLED_BYTES - 1,
      MIN_POOLED_BYTES,
      1000,
      MAX_POOLED_BYTES,
      MAX_POOLED_BYTES + 1,
      3 * POOL_BYTES,
    ]) {
      const source = bytesOf(size, size);
      const copy = pooledCopy(source);
      expect(copy.constructor).toBe(Uint8Array);
      expect(copy.byteLength).toBe(size);
      expect(
        Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength).equals(Buffer.from(source)),
      ).toBe(true);
      source.fill(0xee);
      expect(copy.every((b, i) => b === ((i * 31 + size) & 0xff))).toBe(true);
    }
  });

  test('byte pool - a Buffer is copied too, not viewed', () => {
    const source = Buffer.from(bytesOf(10, 3));
    const copy = pooledCopy(source);
    source.fill(0);
    expect([...copy]).toEqual([...bytesOf(10, 3)]);
  });

  test('byte pool - copies cut from one pool never overlap, across pools too', () => {
    const copies: { copy: Uint8Array; seed: number }[] = [];
    // Sizes that fill several pools and leave each an odd remainder.
    for (let i = 0; i < 200; i++) {
      const size = MIN_POOLED_BYTES + ((i * 397) % (MAX_POOLED_BYTES - MIN_POOLED_BYTES));
      copies.push({ copy: pooledCopy(bytesOf(size, i)), seed: i });
    }
    for (const { copy, seed } of copies) {
      expect(copy.every((b, j) => b === ((j * 31 + seed) & 0xff))).toBe(true);
      expect(copy.byteOffset % 8).toBe(0);
    }
    const pools = new Set(copies.map((c) => c.copy.buffer));
    expect(pools.size).toBeGreaterThan(1);
    expect([...pools].every((p) => p.byteLength === POOL_BYTES)).toBe(true);
  });

  test('byte pool - short and long copies get buffers of their own', () => {
    const short = pooledCopy(bytesOf(MIN_POOLED_BYTES - 1, 1));
    const long = pooledCopy(bytesOf(MAX_POOLED_BYTES + 1, 2));
    const pooled = pooledCopy(bytesOf(MIN_POOLED_BYTES, 3));
    expect(short.buffer.byteLength).toBe(MIN_POOLED_BYTES - 1);
    expect(long.buffer.byteLength).toBe(MAX_POOLED_BYTES + 1);
    expect(pooled.buffer.byteLength).toBe(POOL_BYTES);
  });
});
