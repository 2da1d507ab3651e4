import { headers } from 'nats';
import { describe, expect, test } from 'vitest';
import {
  type CallMeta,
  callHeaders,
  cancelHeaders,
  errorReplyHeaders,
  formatCallMeta,
  Header,
  HeaderBlock,
  isCancelNotice,
  isErrorReply,
  MAX_BUDGET_MS,
  parseHeaderBlock,
  readCallMeta,
  readReplyTo,
  STATUS_ERROR,
} from '../../src/protocol/headers.js';
import { expectBadRequest } from './expect-bad-request.js';

const meta: CallMeta = {
  callId: 'c1',
  service: 'calculator',
  method: 'add',
  budgetMs: 1500,
  path: [],
};

/** Call headers whose `sb-call` value is `value`. */
function callWith(value: string) {
  const h = headers();
  h.set(Header.call, value);
  return h;
}

describe('headers', () => {
  test('headers - callHeaders and readCallMeta round trip the minimal metadata', () => {
    const out = readCallMeta(callHeaders(meta));
    expect(out).toEqual(meta);
    expect(out).not.toHaveProperty('versionRange');
    expect(out).not.toHaveProperty('site');
  });

  test('headers - callHeaders and readCallMeta round trip every field', () => {
    const full: CallMeta = {
      callId: 'call-42',
      service: 'calculator',
      method: 'divide',
      budgetMs: 250,
      path: ['a', 'b'],
      versionRange: '>=1.2.0 <2.0.0',
      site: 'c',
    };
    expect(readCallMeta(callHeaders(full))).toEqual(full);
  });

  test('headers - callHeaders writes one sb-call header: version;id;service;method;budget;path;site;range', () => {
    const h = callHeaders({ ...meta, path: ['a', 'b'], versionRange: '1.x', site: 's' });
    expect(h.keys()).toEqual([Header.call]);
    expect(h.get(Header.call)).toBe('1;c1;calculator;add;1500;a,b;s;1.x');
    expect(formatCallMeta(meta)).toBe('1;c1;calculator;add;1500;;;');
  });

  test('headers - an empty path reads back as [], a,b as two sites, origin first', () => {
    expect(readCallMeta(callHeaders({ ...meta, path: [] })).path).toEqual([]);
    expect(readCallMeta(callHeaders({ ...meta, path: ['a', 'b'] })).path).toEqual(['a', 'b']);
    expect(readCallMeta(callWith('1;c;s;m;10;x,y,z;;')).path).toEqual(['x', 'y', 'z']);
  });

  test('headers - budget is floored and never negative', () => {
    expect(readCallMeta(callHeaders({ ...meta, budgetMs: 99.9 })).budgetMs).toBe(99);
    expect(readCallMeta(callHeaders({ ...meta, budgetMs: -20 })).budgetMs).toBe(0);
  });

  test('headers - missing headers give BAD_REQUEST', () => {
    expect(expectBadRequest(() => readCallMeta(undefined))).toBe('call has no headers');
    expect(expectBadRequest(() => readCallMeta(headers()))).toBe(
      `call has no ${Header.call} header`,
    );
  });

  test('headers - a wrong protocol version gives BAD_REQUEST', () => {
    for (const version of ['2', '0', 'v1', '1.0']) {
      const message = expectBadRequest(() => readCallMeta(callWith(`${version};c;s;m;10;;;`)));
      expect(message).toBe(`unsupported protocol version '${version}' (expected 1)`);
    }
  });

  test('headers - a wrong number of fields gives BAD_REQUEST', () => {
    for (const value of ['1;c;s;m;10', '1;c;s;m;10;;;;', '1']) {
      expect(expectBadRequest(() => readCallMeta(callWith(value)))).toMatch(/must have 8 fields/);
    }
  });

  test('headers - a missing or invalid service or method gives BAD_REQUEST naming it', () => {
    for (const [value, what] of [
      ['1;c;;m;10;;;', /service '' is not a valid name/],
      ['1;c;s;;10;;;', /method '' is not a valid name/],
      ['1;c;a.b;m;10;;;', /service 'a.b'/],
      ['1;c;s;m m;10;;;', /method 'm m'/],
    ] as const) {
      expect(expectBadRequest(() => readCallMeta(callWith(value)))).toMatch(what);
    }
  });

  test('headers - a budget must be whole milliseconds: anything else gives BAD_REQUEST', () => {
    for (const budget of ['', 'soon', '-1', 'Infinity', 'NaN', '1.5', ' 10', '1e3', '0x10']) {
      expect(
        expectBadRequest(() => readCallMeta(callWith(`1;c;s;m;${budget};;;`))),
        budget,
      ).toMatch(/budget must be whole milliseconds/);
    }
  });

  test('headers - a budget over a day is cut to a day (timers cannot count much further)', () => {
    expect(readCallMeta(callWith('1;c;s;m;1000000000000;;;')).budgetMs).toBe(MAX_BUDGET_MS);
    expect(readCallMeta(callWith(`1;c;s;m;${MAX_BUDGET_MS};;;`)).budgetMs).toBe(86_400_000);
    expect(readCallMeta(callWith('1;c;s;m;9999999999999999;;;')).budgetMs).toBe(MAX_BUDGET_MS);
  });

  test('headers - call ids, path sites, the target site and the range are checked', () => {
    for (const [value, what] of [
      ['1;;s;m;10;;;', /call id '' is not valid/],
      ['1;a b;s;m;10;;;', /call id 'a b'/],
      [`1;${'x'.repeat(129)};s;m;10;;;`, /call id/],
      ['1;c;s;m;10;a,,b;;', /path entry '' is not a site name/],
      ['1;c;s;m;10;a.b;;', /path entry 'a.b'/],
      [`1;c;s;m;10;${Array.from({ length: 65 }, (_, i) => `s${i}`).join(',')};;`, /over 64/],
      ['1;c;s;m;10;;b c;', /site 'b c' is not a site name/],
      ['1;c;s;m;10;;;banana', /version range 'banana' is not valid/],
    ] as const) {
      expect(
        expectBadRequest(() => readCallMeta(callWith(value))),
        value,
      ).toMatch(what);
    }
  });

  test('headers - sb-reply must be one inbox subject', () => {
    const h = (value: string) => new HeaderBlock([[Header.replyTo, value]]);
    expect(readReplyTo(undefined)).toBeUndefined();
    expect(readReplyTo(h(''))).toBeUndefined();
    expect(readReplyTo(h('_INBOX.abc.1x'))).toBe('_INBOX.abc.1x');
    for (const bad of [
      'x y z',
      '_INBOX.a b',
      'sb.broker.register.calc',
      '_INBOX.*',
      '_INBOX.>',
      '_INBOX.',
    ]) {
      expect(
        expectBadRequest(() => readReplyTo(h(bad))),
        bad,
      ).toMatch(/not an inbox subject/);
    }
  });

  test('headers - header names are matched whatever their case', () => {
    const block = Buffer.from('NATS/1.0\r\nSb-Call: 1;c;s;m;10;;;\r\n\r\n');
    expect(readCallMeta(parseHeaderBlock(block)).service).toBe('s');
  });

  test('headers - names and values are read without the whitespace around them, as trim() removes it', () => {
    const block = Buffer.from(
      'NATS/1.0\r\n sb-call :\t1;c;s;m;10;a;; \r\nx-a:\xa0v\x0b\r\nx-b: \x01w\r\n\r\n',
      'latin1',
    );
    const h = parseHeaderBlock(block);
    expect(readCallMeta(h)).toMatchObject({ service: 's', path: ['a'] });
    expect(h.get('x-a')).toBe('v');
    expect(h.get('x-b')).toBe('\x01w');
  });

  test('headers - a header value with a lone LF is read as it is, never thrown', () => {
    const block = Buffer.from('NATS/1.0\r\nx-poison: a\nb\r\nsb-st: err\r\n\r\n');
    const h = parseHeaderBlock(block);
    expect(h.get('x-poison')).toBe('a\nb');
    expect(isErrorReply(h)).toBe(true);
  });

  test('headers - a block of many lines without a colon is read in one pass (a hostile peer could send a megabyte of them)', () => {
    // 2,000,000 empty lines: looked for from each line's start, the colon at the
    // end would take ~10^12 steps (half a minute, past the test's timeout); in one pass, ms.
    const filler = '\r\n'.repeat(2_000_000);
    const withOne = parseHeaderBlock(Buffer.from(`NATS/1.0\r\n${filler}sb-st: err\r\n\r\n`));
    expect(isErrorReply(withOne)).toBe(true);
    const without = parseHeaderBlock(Buffer.from(`NATS/1.0 503\r\n${filler}\r\n`));
    expect(without.code).toBe(503);
    expect(without.get('x')).toBe('');
    const some = parseHeaderBlock(Buffer.from('NATS/1.0\r\na\r\nx-b:1:2\r\n:c\r\nd\r\nx-e: 3'));
    expect([some.get('x-b'), some.get('x-e')]).toEqual(['1:2', '3']);
  });

  test('headers - a zero budget is valid (the receiver refuses it as TIMEOUT)', () => {
    expect(readCallMeta(callHeaders({ ...meta, budgetMs: 0 })).budgetMs).toBe(0);
  });

  test('headers - isErrorReply is true only for the error status header', () => {
    expect(isErrorReply(undefined)).toBe(false);
    expect(isErrorReply(headers())).toBe(false);
    expect(isErrorReply(callHeaders(meta))).toBe(false);
    expect(isErrorReply(errorReplyHeaders())).toBe(true);
    const other = headers();
    other.set(Header.status, 'ok');
    expect(isErrorReply(other)).toBe(false);
    const manual = headers();
    manual.set(Header.status, STATUS_ERROR);
    expect(isErrorReply(manual)).toBe(true);
  });

  test('headers - cancel notices carry the call metadata and are recognised', () => {
    const full: CallMeta = { ...meta, path: ['a'], versionRange: '^1.0.0', site: 'b' };
    const h = cancelHeaders(full);
    expect(isCancelNotice(h)).toBe(true);
    expect(readCallMeta(h)).toEqual({ ...full, budgetMs: 0 });
    expect(isCancelNotice(callHeaders(full))).toBe(false);
    expect(isCancelNotice(undefined)).toBe(false);
    expect(isCancelNotice(headers())).toBe(false);
    expect(isErrorReply(h)).toBe(false);
  });

  test('headers - errorReplyHeaders carries only the status', () => {
    const h = errorReplyHeaders();
    expect(h.get(Header.status)).toBe('err');
    expect(h.keys()).toEqual([Header.status]);
  });
});
