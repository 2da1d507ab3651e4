import type { NatsConnection } from 'nats';
import { DataBuffer } from 'nats/lib/nats-base-client/databuffer.js';
import { describe, expect, test } from 'vitest';
import {
  POOLED_BELOW,
  packOutboundPooled,
  packsOutboundPooled,
} from '../../src/transport/outbound-pack.js';
import { mulberry32 } from '../support/seeded-random.js';

/** A connection as far as {@link packOutboundPooled} sees one: nats.js's own outbound buffer. */
function connectionWith(outbound: object): NatsConnection {
  return { protocol: { outbound } } as unknown as NatsConnection;
}

describe('outbound pack', () => {
  test('outbound pack - what is drained is byte for byte what nats.js drains, from 0 B to 40 KB a write', () => {
    const next = mulberry32(16);
    const stock = new DataBuffer();
    const pooled = new DataBuffer();
    expect(packOutboundPooled(connectionWith(pooled))).toBe(true);
    let written = 0;
    for (let round = 0; round < 400; round++) {
      const count = 1 + Math.floor(next() * 40);
      for (let i = 0; i < count; i++) {
        // Lengths across the pool's limit (4 KiB), empty pieces too.
        const size = Math.floor(next() ** 3 * 6000);
        const piece = Uint8Array.from({ length: size }, () => Math.floor(next() * 256));
        const extra = next() < 0.5 ? [Buffer.from('\r\n')] : [];
        stock.fill(piece, ...extra);
        pooled.fill(piece, ...extra);
      }
      // As nats.js writes: all of it (its flush), or a part (never, today; still the same bytes).
      const n = next() < 0.9 ? undefined : Math.floor(next() * stock.size());
      const expected = stock.drain(n);
      const got = pooled.drain(n);
      expect(Buffer.from(got).equals(Buffer.from(expected))).toBe(true);
      expect(pooled.size()).toBe(stock.size());
      written += got.length;
    }
    expect(written).toBeGreaterThan(1_000_000);
  });

  test('outbound pack - a write of a few messages is cut from the shared pool, a long one is a buffer of its own', () => {
    const outbound = new DataBuffer();
    packOutboundPooled(connectionWith(outbound));
    outbound.fill(Buffer.from('PUB a 2\r\n'), Buffer.from('hi'), Buffer.from('\r\n'));
    const short = outbound.drain();
    expect(short.byteLength).toBe(13);
    expect(short.buffer.byteLength).toBe(Buffer.poolSize);
    // At the limit: one byte shorter is pooled, the limit itself is not.
    for (const [size, pooled] of [
      [POOLED_BELOW - 1, true],
      [POOLED_BELOW, false],
      [6000, false],
    ] as const) {
      outbound.fill(new Uint8Array(size - 100), new Uint8Array(100));
      const joined = outbound.drain();
      expect(joined.byteLength).toBe(size);
      expect(joined.buffer.byteLength).toBe(pooled ? Buffer.poolSize : size);
    }
  });

  test('outbound pack - a byte count that disagrees with the pieces sends no pooled byte that was not written', () => {
    const outbound = new DataBuffer();
    packOutboundPooled(connectionWith(outbound));
    // Fill the pool with something that must not go out.
    Buffer.allocUnsafe(4000).fill(0xee);
    outbound.fill(Buffer.from('abc'), Buffer.from('def'));
    outbound.byteLength += 100;
    const drained = outbound.drain();
    expect(Buffer.from(drained).toString()).toBe('abcdef');
  });

  test('outbound pack - a single piece goes out as it is, and a handler of another shape is left alone', () => {
    const outbound = new DataBuffer();
    expect(packsOutboundPooled(connectionWith(outbound))).toBe(false);
    packOutboundPooled(connectionWith(outbound));
    packOutboundPooled(connectionWith(outbound));
    expect(packsOutboundPooled(connectionWith(outbound))).toBe(true);
    const piece = Buffer.from('PING\r\n');
    outbound.fill(piece);
    expect(outbound.drain().buffer).toBe(piece.buffer);
    const unlike = { pack: () => {}, buffers: 'not a list', byteLength: 0 };
    expect(packOutboundPooled(connectionWith(unlike))).toBe(false);
    expect(packOutboundPooled({} as NatsConnection)).toBe(false);
  });
});
