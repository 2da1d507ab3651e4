/**
 * What a call carries besides its routing: W3C trace context and the
 * caller's metadata, as written and as read back from a peer (untrusted).
 */
import { describe, expect, test } from 'vitest';
import {
  checkMeta,
  decodeMeta,
  encodeMeta,
  isTraceparent,
  META_KEY_PATTERN,
  META_LIMITS,
  readTracestate,
} from '../../src/protocol/call-context-headers.js';
import { ErrorCode, type SwitchboardError } from '../../src/protocol/index.js';
import { thrownBy } from '../support/memory-site.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

/** The refusal `fn` throws: BAD_REQUEST, completion `no`. */
function refusal(fn: () => unknown): SwitchboardError {
  const err = thrownBy(fn);
  expect(err.code).toBe(ErrorCode.BAD_REQUEST);
  expect(err.completed).toBe('no');
  return err;
}

/** `count` entries `k0=v`, `k1=v`, ... */
function entries(count: number, value = 'v'): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, value]));
}

describe('trace context', () => {
  test('traceparent - version 00, lower-case hex ids of 32 and 16 digits, not all zero, two flag digits', () => {
    expect(isTraceparent(`00-${TRACE_ID}-${PARENT_ID}-01`)).toBe(true);
    expect(isTraceparent(`00-${TRACE_ID}-${PARENT_ID}-00`)).toBe(true);
    for (const bad of [
      `01-${TRACE_ID}-${PARENT_ID}-01`,
      `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`,
      `00-${'0'.repeat(32)}-${PARENT_ID}-01`,
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
      `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`,
      `00-${TRACE_ID}-${PARENT_ID}0-01`,
      `00-${TRACE_ID}-${PARENT_ID}-1`,
      `00-${TRACE_ID}-${PARENT_ID}-01-extra`,
      ` 00-${TRACE_ID}-${PARENT_ID}-01`,
      '',
    ]) {
      expect(isTraceparent(bad), bad).toBe(false);
    }
  });

  test('tracestate - printable ASCII up to 512 characters is passed on; anything else is dropped', () => {
    expect(readTracestate('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE')).toBe(
      'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    );
    expect(readTracestate(' ~')).toBe(' ~');
    expect(readTracestate('x'.repeat(512))).toBe('x'.repeat(512));
    expect(readTracestate('x'.repeat(513))).toBeUndefined();
    expect(readTracestate('')).toBeUndefined();
    for (const c of ['\x1f', '\x7f', '\n', 'é']) {
      expect(readTracestate(`a=1${c}`), JSON.stringify(c)).toBeUndefined();
    }
  });
});

describe('call metadata', () => {
  test('meta - encodes key=value pairs joined by commas, values percent-encoded, and decodes them back', () => {
    const meta = { tenant: 'acme', 'user.id': 'a b,c=d%', empty: '' };
    const text = encodeMeta(meta);
    expect(text).toBe('tenant=acme,user.id=a%20b%2Cc%3Dd%25,empty=');
    expect({ ...decodeMeta(text) }).toEqual(meta);
    expect(encodeMeta({})).toBe('');
    expect({ ...decodeMeta('') }).toEqual({});
    expect(Object.getPrototypeOf(decodeMeta('a=1'))).toBeNull();
  });

  test('meta - a key without a value reads as empty; checkMeta returns the text it accepts', () => {
    expect({ ...decodeMeta('flag,b=2') }).toEqual({ flag: '', b: '2' });
    expect(checkMeta('a=1,b=2')).toBe('a=1,b=2');
    refusal(() => checkMeta('=1'));
  });

  test('meta - keys are letters, digits, _ - and . of 1 to 64 characters', () => {
    expect(META_KEY_PATTERN.test('A-z_0.9')).toBe(true);
    expect(META_KEY_PATTERN.test('k'.repeat(64))).toBe(true);
    expect(META_KEY_PATTERN.test('k'.repeat(65))).toBe(false);
    expect(META_KEY_PATTERN.test('')).toBe(false);
    for (const key of ['a b', 'a=b', 'a,b', 'ключ', 'k'.repeat(65)]) {
      const err = refusal(() => encodeMeta({ [key]: 'v' }));
      expect(err.message).toBe(`metadata key '${key.slice(0, 64)}' is not valid`);
    }
    expect(refusal(() => decodeMeta('a b=1')).message).toBe(
      "sb-meta header: key 'a b' is not valid",
    );
    expect(refusal(() => decodeMeta(`${'k'.repeat(70)}=1`)).message).toBe(
      `sb-meta header: key '${'k'.repeat(64)}' is not valid`,
    );
  });

  test('meta - a value that is not a string is refused', () => {
    const err = refusal(() => encodeMeta({ n: 1 } as unknown as Record<string, string>));
    expect(err.message).toBe("metadata 'n' must be a string");
  });

  test('meta - at most 32 entries, written or read', () => {
    expect(META_LIMITS).toEqual({ entries: 32, bytes: 4096 });
    const most = encodeMeta(entries(32));
    expect(Object.keys(decodeMeta(most))).toHaveLength(32);
    expect(refusal(() => encodeMeta(entries(33))).message).toBe(
      'metadata has 33 entries, over the limit of 32',
    );
    const tooMany = Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',');
    expect(refusal(() => decodeMeta(tooMany)).message).toBe(
      'sb-meta header has 33 entries, over the limit of 32',
    );
  });

  test('meta - at most 4096 characters encoded, written or read', () => {
    // One entry: 'k=' and 4094 characters of value make exactly 4096.
    expect(encodeMeta({ k: 'x'.repeat(4094) })).toHaveLength(4096);
    expect(refusal(() => encodeMeta({ k: 'x'.repeat(4095) })).message).toBe(
      'metadata takes 4097 bytes, over the limit of 4096',
    );
    // Percent-encoding counts: 1365 spaces take 4095 characters.
    expect(refusal(() => encodeMeta({ k: ' '.repeat(1365) })).message).toBe(
      'metadata takes 4097 bytes, over the limit of 4096',
    );
    expect(decodeMeta(`k=${'x'.repeat(4094)}`).k).toHaveLength(4094);
    expect(refusal(() => decodeMeta(`k=${'x'.repeat(4095)}`)).message).toBe(
      'sb-meta header takes 4097 bytes, over the limit of 4096',
    );
  });

  test('meta - a value that is not valid percent-encoding is refused, naming its key', () => {
    expect(refusal(() => decodeMeta('a=1,b=%E0%A4%A')).message).toBe(
      "sb-meta header: the value of 'b' is not percent-encoded",
    );
    expect(decodeMeta('a=%E2%9C%93').a).toBe('✓');
  });
});
