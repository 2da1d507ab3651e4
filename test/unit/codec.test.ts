import { Encoder } from '@msgpack/msgpack';
import { describe, expect, test, vi } from 'vitest';
import { Codec } from '../../src/protocol/codec.js';
import { ErrorCode, SwitchboardError } from '../../src/protocol/errors.js';
import { StringSizingEncoder } from '../../src/protocol/msgpack-encoder.js';

function badRequest(fn: () => unknown): SwitchboardError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SwitchboardError);
    return err as SwitchboardError;
  }
  throw new Error('expected the call to throw');
}

describe('codec', () => {
  test('codec - round trips numbers', () => {
    const codec = new Codec();
    for (const n of [0, 1, -1, 127, 128, 255, 65_536, -2_147_483_648, 2 ** 53 - 1, 1.5, -0.25]) {
      expect(codec.decode(codec.encode(n))).toBe(n);
    }
  });

  test('codec - round trips strings, including empty and non-ASCII ones', () => {
    const codec = new Codec();
    for (const s of ['', 'hello', 'héllo wörld', '日本語', '🎉', 'x'.repeat(70_000)]) {
      expect(codec.decode(codec.encode(s))).toBe(s);
    }
  });

  test('codec - round trips booleans and null', () => {
    const codec = new Codec();
    expect(codec.decode(codec.encode(true))).toBe(true);
    expect(codec.decode(codec.encode(false))).toBe(false);
    expect(codec.decode(codec.encode(null))).toBeNull();
  });

  test('codec - round trips nested maps and arrays', () => {
    const codec = new Codec();
    const value = {
      a: 1,
      b: 'two',
      c: [1, 'x', { d: [true, null, { e: [] }] }],
      f: { g: { h: { i: 'deep' } } },
      empty: {},
    };
    expect(codec.decode(codec.encode(value))).toEqual(value);
    const list = [[1, 2], [], [[3]], [{ k: 'v' }]];
    expect(codec.decode(codec.encode(list))).toEqual(list);
  });

  test('codec - round trips Uint8Array as bytes', () => {
    const codec = new Codec();
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    const decoded = codec.decode(codec.encode({ payload: bytes })) as { payload: unknown };
    expect(decoded.payload).toBeInstanceOf(Uint8Array);
    expect([...(decoded.payload as Uint8Array)]).toEqual([0, 1, 2, 254, 255]);
    const alone = codec.decode(codec.encode(new Uint8Array(0)));
    expect(alone).toBeInstanceOf(Uint8Array);
    expect((alone as Uint8Array).length).toBe(0);
  });

  test('codec - drops undefined values in maps', () => {
    const codec = new Codec();
    const decoded = codec.decode(codec.encode({ a: 1, b: undefined, c: { d: undefined, e: 2 } }));
    expect(decoded).toEqual({ a: 1, c: { e: 2 } });
    expect(Object.keys(decoded as object)).toEqual(['a', 'c']);
    expect(Object.keys((decoded as { c: object }).c)).toEqual(['e']);
  });

  test('codec - empty body decodes to undefined', () => {
    const codec = new Codec();
    expect(codec.decode(new Uint8Array(0))).toBeUndefined();
  });

  test('codec - malformed msgpack (reserved byte 0xc1) throws BAD_REQUEST with completed no', () => {
    const codec = new Codec();
    const err = badRequest(() => codec.decode(new Uint8Array([0xc1])));
    expect(err.code).toBe(ErrorCode.BAD_REQUEST);
    expect(err.completed).toBe('no');
    expect(err.message).toMatch(/malformed msgpack/);
    expect(err.cause).toBeDefined();
    expect(err.retryable).toBe(false);
  });

  test('codec - truncated msgpack (array of 2 with 1 item) throws BAD_REQUEST', () => {
    const codec = new Codec();
    const err = badRequest(() => codec.decode(new Uint8Array([0x92, 0x01])));
    expect(err.code).toBe(ErrorCode.BAD_REQUEST);
    expect(err.completed).toBe('no');
  });

  test('codec - truncated string and trailing bytes throw BAD_REQUEST', () => {
    const codec = new Codec();
    // fixstr of length 5 with only 2 bytes.
    expect(badRequest(() => codec.decode(new Uint8Array([0xa5, 0x61, 0x62]))).code).toBe(
      ErrorCode.BAD_REQUEST,
    );
    // Two values where one is expected.
    expect(badRequest(() => codec.decode(new Uint8Array([0x01, 0x02]))).code).toBe(
      ErrorCode.BAD_REQUEST,
    );
  });

  test('codec - keeps working after a decode failure', () => {
    const codec = new Codec();
    expect(() => codec.decode(new Uint8Array([0x92, 0x01]))).toThrow(SwitchboardError);
    expect(codec.decode(codec.encode([1, 2]))).toEqual([1, 2]);
    expect(() => codec.decode(new Uint8Array([0xc1]))).toThrow(SwitchboardError);
    expect(codec.decode(codec.encode({ ok: true }))).toEqual({ ok: true });
  });

  test('codec - encode failure throws BAD_REQUEST and the codec keeps working', () => {
    const codec = new Codec();
    const err = badRequest(() => codec.encode(10n ** 30n));
    expect(err.code).toBe(ErrorCode.BAD_REQUEST);
    expect(err.completed).toBe('no');
    expect(err.message).toMatch(/cannot encode/);
    expect(codec.decode(codec.encode('after'))).toBe('after');
  });

  test('codec - a short body (under 65 bytes) gets a buffer of its own each time', () => {
    const codec = new Codec();
    const first = codec.encode({ value: 'first', n: [1, 2, 3] });
    const snapshot = [...first];
    const second = codec.encode({ value: 'other', n: [4, 5, 6] });
    expect(second).not.toBe(first);
    expect(second.buffer).not.toBe(first.buffer);
    expect([...first]).toEqual(snapshot);
    expect(codec.decode(first)).toEqual({ value: 'first', n: [1, 2, 3] });
    expect(codec.decode(second)).toEqual({ value: 'other', n: [4, 5, 6] });
  });

  test('codec - decodes a Buffer body and yields plain Uint8Array binaries', () => {
    const codec = new Codec();
    const encoded = codec.encode({ bin: new Uint8Array([9, 8, 7]), n: 1 });
    // NATS hands bodies over as Buffers, often views into a larger buffer.
    const pool = Buffer.alloc(encoded.length + 8);
    pool.set(encoded, 4);
    const body = pool.subarray(4, 4 + encoded.length);
    const decoded = codec.decode(body) as { bin: Uint8Array; n: number };
    expect(decoded.n).toBe(1);
    expect(decoded.bin.constructor).toBe(Uint8Array);
    expect(Buffer.isBuffer(decoded.bin)).toBe(false);
    expect([...decoded.bin]).toEqual([9, 8, 7]);
    expect(codec.decode(Buffer.alloc(0))).toBeUndefined();
    expect(() => codec.decode(Buffer.from([0xc1]))).toThrow(SwitchboardError);
  });

  test('codec - decoding does not alias the input buffer for strings', () => {
    const codec = new Codec();
    const bytes = codec.encode({ s: 'abc' });
    const decoded = codec.decode(bytes) as { s: string };
    bytes.fill(0);
    expect(decoded.s).toBe('abc');
  });

  test('codec - long strings encode byte for byte as the stock encoder writes them', () => {
    // With the @msgpack/msgpack this was written against (pinned), the faster way is in place.
    expect(Object.hasOwn(StringSizingEncoder.prototype, 'encodeString')).toBe(true);
    const stock = new Encoder({ ignoreUndefined: true });
    const sizing = new StringSizingEncoder({ ignoreUndefined: true });
    const pieces = ['a', 'é', '€', '😀', '\ud800', '\udc00', '\u0000', '\u07ff', '\uffff'];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const strings: string[] = [];
    // Around the stock encoder's own threshold (50 characters) and every string header size.
    for (const length of [0, 31, 32, 50, 51, 255, 256, 1024, 65_535, 65_536, 70_000]) {
      strings.push('x'.repeat(length));
      let mixed = '';
      while (mixed.length < length) mixed += pieces[random() % pieces.length];
      strings.push(mixed);
    }
    for (const s of strings) {
      const value = [s, { [s.slice(0, 60)]: s }];
      expect(Buffer.from(sizing.encode(value)).equals(Buffer.from(stock.encode(value)))).toBe(true);
    }
    const codec = new Codec();
    for (const s of strings) {
      expect(codec.decode(codec.encode({ s }))).toEqual(codec.decode(stock.encode({ s })));
    }
  });

  test('codec - a long string whose count and written length differ goes the stock way', () => {
    const stock = new Encoder();
    const value = ['€'.repeat(60)];
    const count = vi.spyOn(Buffer, 'byteLength').mockReturnValueOnce(60);
    try {
      const bytes = new StringSizingEncoder().encode(value);
      expect(count).toHaveBeenCalledTimes(1);
      expect(Buffer.from(bytes).equals(Buffer.from(stock.encode(value)))).toBe(true);
    } finally {
      count.mockRestore();
    }
  });

  test("codec - encoded bytes are the caller's: encoding again does not change them", () => {
    const codec = new Codec();
    const first = codec.encode(['a'.repeat(300)]);
    const copy = Buffer.from(first);
    for (let i = 0; i < 100; i++) codec.encode(['b'.repeat(300 + i)]);
    expect(Buffer.from(first.buffer, first.byteOffset, first.byteLength).equals(copy)).toBe(true);
    expect(codec.decode(first)).toEqual(['a'.repeat(300)]);
  });
});
