/**
 * Reading the headers of a received message: from nats.js's raw header bytes
 * where it keeps them, else through `msg.headers`; once per message.
 */
import type { Msg } from 'nats';
import { describe, expect, test } from 'vitest';
import { ErrorCode, SwitchboardError } from '../../src/protocol/index.js';
import { headersOf, readsRawHeaders } from '../../src/transport/index.js';

const block = new TextEncoder().encode('NATS/1.0\r\nsb-x: 1\r\n\r\n');

describe('received headers', () => {
  test('received headers - raw header bytes are parsed where nats.js keeps them; none when their length is not positive', () => {
    const raw = { _msg: { hdr: block.length }, _rdata: block } as unknown as Msg;
    expect(readsRawHeaders(raw)).toBe(true);
    expect(headersOf(raw)?.get('sb-x')).toBe('1');
    for (const hdr of [0, -1]) {
      const none = {
        _msg: { hdr },
        _rdata: block,
        get headers() {
          throw new Error('not read');
        },
      };
      expect(headersOf(none as unknown as Msg), String(hdr)).toBeUndefined();
    }
  });

  test('received headers - without raw bytes msg.headers is read, once per message', () => {
    let reads = 0;
    const msg = {
      get headers() {
        reads++;
        return { get: () => 'v', code: 0 };
      },
    } as unknown as Msg;
    expect(readsRawHeaders(msg)).toBe(false);
    expect(headersOf(msg)?.get('a')).toBe('v');
    expect(headersOf(msg)?.get('a')).toBe('v');
    expect(reads).toBe(1);
    let plainReads = 0;
    const bare = {
      get headers() {
        plainReads++;
        return undefined;
      },
    } as unknown as Msg;
    expect(headersOf(bare)).toBeUndefined();
    expect(headersOf(bare)).toBeUndefined();
    expect(plainReads).toBe(1);
  });

  test('received headers - half of the raw layout is not enough', () => {
    const reader = { get: () => 'fallback', code: 0 };
    const lengthOnly = { _msg: { hdr: block.length }, headers: reader } as unknown as Msg;
    const bytesOnly = { _rdata: block, headers: reader } as unknown as Msg;
    const textLength = { _msg: { hdr: String(block.length) }, _rdata: block, headers: reader };
    for (const msg of [lengthOnly, bytesOnly, textLength as unknown as Msg]) {
      expect(readsRawHeaders(msg)).toBe(false);
      expect(headersOf(msg)?.get('sb-x')).toBe('fallback');
    }
    expect(readsRawHeaders({} as Msg)).toBe(false);
  });

  test('received headers - headers nats.js cannot parse are BAD_REQUEST, completion no', () => {
    const msg = {
      get headers() {
        throw new Error('bad block');
      },
    } as unknown as Msg;
    let thrown: unknown;
    try {
      headersOf(msg);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(SwitchboardError);
    expect(thrown).toMatchObject({
      code: ErrorCode.BAD_REQUEST,
      completed: 'no',
      message: 'malformed headers: Error: bad block',
    });
  });
});
