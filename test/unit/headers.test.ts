import { headers } from 'nats';
import { describe, expect, test } from 'vitest';
import { ErrorCode, SwitchboardError } from '../../src/protocol/errors.js';
import {
  type CallMeta,
  callHeaders,
  cancelHeaders,
  errorReplyHeaders,
  Header,
  isCancelNotice,
  isErrorReply,
  readCallMeta,
  STATUS_ERROR,
} from '../../src/protocol/headers.js';

const meta: CallMeta = {
  callId: 'c1',
  service: 'calculator',
  method: 'add',
  budgetMs: 1500,
  path: [],
};

function badRequest(fn: () => unknown): string {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(SwitchboardError);
  expect((thrown as SwitchboardError).code).toBe(ErrorCode.BAD_REQUEST);
  expect((thrown as SwitchboardError).completed).toBe('no');
  return (thrown as SwitchboardError).message;
}

/** Good call headers without `omit`, with `extra` set. */
function callWithout(omit: string, extra: Record<string, string> = {}) {
  const h = headers();
  const good = callHeaders(meta);
  for (const [k] of good) if (k !== omit) h.set(k, good.get(k));
  for (const [k, v] of Object.entries(extra)) h.set(k, v);
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
      versionRange: '^1.2.0',
      site: 'c',
    };
    expect(readCallMeta(callHeaders(full))).toEqual(full);
  });

  test('headers - callHeaders writes the protocol version and header names', () => {
    const h = callHeaders({ ...meta, path: ['a'], versionRange: '1.x', site: 's' });
    expect(h.get(Header.version)).toBe('1');
    expect(h.get(Header.callId)).toBe('c1');
    expect(h.get(Header.service)).toBe('calculator');
    expect(h.get(Header.method)).toBe('add');
    expect(h.get(Header.budget)).toBe('1500');
    expect(h.get(Header.path)).toBe('a');
    expect(h.get(Header.versionRange)).toBe('1.x');
    expect(h.get(Header.site)).toBe('s');
  });

  test('headers - an empty path is left out and reads back as []', () => {
    const h = callHeaders({ ...meta, path: [] });
    expect(h.has(Header.path)).toBe(false);
    expect(readCallMeta(h).path).toEqual([]);
  });

  test('headers - a path a,b reads back as two sites, origin first', () => {
    const h = callHeaders({ ...meta, path: ['a', 'b'] });
    expect(h.get(Header.path)).toBe('a,b');
    expect(readCallMeta(h).path).toEqual(['a', 'b']);
    expect(readCallMeta(callWithout('', { [Header.path]: 'x,y,z' })).path).toEqual(['x', 'y', 'z']);
  });

  test('headers - budget is floored and never negative', () => {
    expect(readCallMeta(callHeaders({ ...meta, budgetMs: 99.9 })).budgetMs).toBe(99);
    expect(readCallMeta(callHeaders({ ...meta, budgetMs: -20 })).budgetMs).toBe(0);
    expect(callHeaders({ ...meta, budgetMs: -20 }).get(Header.budget)).toBe('0');
  });

  test('headers - missing headers give BAD_REQUEST', () => {
    expect(badRequest(() => readCallMeta(undefined))).toBe('call has no headers');
  });

  test('headers - a missing version header gives BAD_REQUEST naming it', () => {
    expect(badRequest(() => readCallMeta(callWithout(Header.version)))).toBe(
      `call has no ${Header.version} header`,
    );
  });

  test('headers - a wrong protocol version gives BAD_REQUEST', () => {
    for (const version of ['2', '0', 'v1', '1.0']) {
      const message = badRequest(() =>
        readCallMeta(callWithout(Header.version, { [Header.version]: version })),
      );
      expect(message).toBe(`unsupported protocol version ${version} (expected 1)`);
    }
  });

  test('headers - missing service or method headers give BAD_REQUEST naming them', () => {
    expect(badRequest(() => readCallMeta(callWithout(Header.service)))).toBe(
      `call has no ${Header.service} header`,
    );
    expect(badRequest(() => readCallMeta(callWithout(Header.method)))).toBe(
      `call has no ${Header.method} header`,
    );
  });

  test('headers - a missing or invalid budget header gives BAD_REQUEST', () => {
    expect(badRequest(() => readCallMeta(callWithout(Header.budget)))).toBe(
      `call has no valid ${Header.budget} header`,
    );
    for (const budget of ['soon', '-1', 'Infinity', 'NaN']) {
      expect(
        badRequest(() => readCallMeta(callWithout(Header.budget, { [Header.budget]: budget }))),
      ).toBe(`call has no valid ${Header.budget} header`);
    }
  });

  test('headers - a zero budget is valid (the receiver refuses it as TIMEOUT)', () => {
    expect(readCallMeta(callHeaders({ ...meta, budgetMs: 0 })).budgetMs).toBe(0);
  });

  test('headers - a missing call id reads back as an empty string', () => {
    expect(readCallMeta(callWithout(Header.callId)).callId).toBe('');
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
