import { describe, expect, test } from 'vitest';
import {
  ApplicationError,
  ErrorCode,
  type ErrorData,
  isErrorCode,
  RETRYABLE_CODES,
  SwitchboardError,
  toSwitchboardError,
} from '../../src/protocol/errors.js';

const ALL_CODES = Object.values(ErrorCode);

describe('errors', () => {
  test('errors - SwitchboardError defaults', () => {
    const err = new SwitchboardError(ErrorCode.INTERNAL, 'oops');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('SwitchboardError');
    expect(err.remoteName).toBe('SwitchboardError');
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toBe('oops');
    expect(err.completed).toBe('maybe');
    expect(err.appCode).toBeUndefined();
    expect(err.details).toBeUndefined();
    expect(err.site).toBeUndefined();
    expect(err.service).toBeUndefined();
    expect(err.path).toBeUndefined();
    expect(err.cause).toBeUndefined();
    expect('cause' in err).toBe(false);
  });

  test('errors - SwitchboardError keeps its cause', () => {
    const cause = new Error('root');
    expect(new SwitchboardError(ErrorCode.INTERNAL, 'x', { cause }).cause).toBe(cause);
  });

  test('errors - toSwitchboardError keeps code and details of an Error', () => {
    const thrown = Object.assign(new RangeError('out of range'), {
      code: 'E_RANGE',
      details: { max: 10 },
    });
    const err = toSwitchboardError(thrown, { site: 'a', service: 'calculator', path: ['a'] });
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err.code).toBe(ErrorCode.APPLICATION);
    expect(err.remoteName).toBe('RangeError');
    expect(err.message).toBe('out of range');
    expect(err.appCode).toBe('E_RANGE');
    expect(err.details).toEqual({ max: 10 });
    expect(err.site).toBe('a');
    expect(err.service).toBe('calculator');
    expect(err.path).toEqual(['a']);
    expect(err.completed).toBe('yes');
    expect(err.cause).toBe(thrown);
  });

  test('errors - toSwitchboardError ignores a non-string code', () => {
    const thrown = Object.assign(new Error('x'), { code: 42 });
    expect(toSwitchboardError(thrown).appCode).toBeUndefined();
  });

  test('errors - toSwitchboardError turns an ApplicationError into APPLICATION', () => {
    const thrown = new ApplicationError('DIVIDE_BY_ZERO', 'cannot divide by zero', { a: 1, b: 0 });
    const err = toSwitchboardError(thrown, { site: 'c', service: 'calculator' });
    expect(err.code).toBe(ErrorCode.APPLICATION);
    expect(err.remoteName).toBe('ApplicationError');
    expect(err.appCode).toBe('DIVIDE_BY_ZERO');
    expect(err.message).toBe('cannot divide by zero');
    expect(err.details).toEqual({ a: 1, b: 0 });
    expect(err.site).toBe('c');
    expect(err.service).toBe('calculator');
  });

  test('errors - appCode wins over code when an error has both', () => {
    const thrown = Object.assign(new ApplicationError('APP', 'm'), { code: 'OTHER' });
    expect(toSwitchboardError(thrown).appCode).toBe('APP');
  });

  test('errors - toSwitchboardError turns a thrown string into its message', () => {
    const err = toSwitchboardError('plain failure');
    expect(err.code).toBe(ErrorCode.APPLICATION);
    expect(err.message).toBe('plain failure');
    expect(err.remoteName).toBe('Error');
    expect(err.appCode).toBeUndefined();
    expect(err.details).toBeUndefined();
    expect(err.completed).toBe('yes');
    expect(err.cause).toBe('plain failure');
  });

  test('errors - toSwitchboardError reads fields of a thrown plain object', () => {
    const thrown = { name: 'QuotaError', message: 'quota exceeded', code: 'QUOTA', details: [1] };
    const err = toSwitchboardError(thrown);
    expect(err.code).toBe(ErrorCode.APPLICATION);
    expect(err.remoteName).toBe('QuotaError');
    expect(err.message).toBe('quota exceeded');
    expect(err.appCode).toBe('QUOTA');
    expect(err.details).toEqual([1]);
  });

  test('errors - toSwitchboardError handles null, undefined, numbers and bare objects', () => {
    expect(toSwitchboardError(undefined).message).toBe('undefined');
    expect(toSwitchboardError(null).message).toBe('null');
    expect(toSwitchboardError(42).message).toBe('42');
    const bare = toSwitchboardError({});
    expect(bare.code).toBe(ErrorCode.APPLICATION);
    expect(bare.remoteName).toBe('Error');
    expect(typeof bare.message).toBe('string');
  });

  test('errors - toSwitchboardError uses the completion of the origin', () => {
    expect(toSwitchboardError(new Error('x'), { completed: 'maybe' }).completed).toBe('maybe');
    expect(toSwitchboardError(new Error('x')).completed).toBe('yes');
  });

  test('errors - a SwitchboardError passes through as the same object', () => {
    const original = new SwitchboardError(ErrorCode.TIMEOUT, 'late', { completed: 'no' });
    const out = toSwitchboardError(original, { site: 'other', service: 'svc', completed: 'yes' });
    expect(out).toBe(original);
    expect(out.site).toBeUndefined();
    expect(out.completed).toBe('no');
  });

  test('errors - toData and fromData round trip every field', () => {
    const original = new SwitchboardError(ErrorCode.APPLICATION, 'boom', {
      name: 'TypeError',
      appCode: 'BAD_ARG',
      details: { arg: 0, nested: [1, { x: 'y' }] },
      site: 'c',
      service: 'calculator',
      completed: 'yes',
      path: ['a', 'b'],
    });
    const data = original.toData();
    expect(data).toEqual({
      code: 'APPLICATION',
      message: 'boom',
      name: 'TypeError',
      appCode: 'BAD_ARG',
      details: { arg: 0, nested: [1, { x: 'y' }] },
      site: 'c',
      service: 'calculator',
      completed: 'yes',
      path: ['a', 'b'],
    });
    const rebuilt = SwitchboardError.fromData(structuredClone(data));
    expect(rebuilt).toBeInstanceOf(SwitchboardError);
    expect(rebuilt.toData()).toEqual(data);
    expect(rebuilt.remoteName).toBe('TypeError');
    expect(rebuilt.name).toBe('SwitchboardError');
  });

  test('errors - toData leaves unset optional fields out', () => {
    const data = new SwitchboardError(ErrorCode.UNAVAILABLE, 'busy', { completed: 'no' }).toData();
    expect(data).toEqual({
      code: 'UNAVAILABLE',
      message: 'busy',
      name: 'SwitchboardError',
      completed: 'no',
    });
    expect(Object.keys(data).sort()).toEqual(['code', 'completed', 'message', 'name']);
  });

  test('errors - fromData of minimal data and toJSON', () => {
    const data: ErrorData = { code: 'FORBIDDEN', message: 'no', name: 'X', completed: 'maybe' };
    const err = SwitchboardError.fromData(data);
    expect(err.toData()).toEqual(data);
    expect(JSON.parse(JSON.stringify(err))).toEqual(data);
  });

  test('errors - retryable only for retryable codes with completed no', () => {
    expect([...RETRYABLE_CODES].sort()).toEqual(['TIMEOUT', 'UNAVAILABLE']);
    for (const code of ALL_CODES) {
      for (const completed of ['yes', 'no', 'maybe'] as const) {
        const err = new SwitchboardError(code, 'x', { completed });
        expect(err.retryable, `${code}/${completed}`).toBe(
          completed === 'no' && RETRYABLE_CODES.has(code),
        );
      }
    }
    expect(new SwitchboardError(ErrorCode.TIMEOUT, 'x', { completed: 'no' }).retryable).toBe(true);
    expect(new SwitchboardError(ErrorCode.TIMEOUT, 'x').retryable).toBe(false);
    expect(new SwitchboardError(ErrorCode.BAD_REQUEST, 'x', { completed: 'no' }).retryable).toBe(
      false,
    );
  });

  test('errors - isErrorCode accepts exactly the stable codes', () => {
    for (const code of ALL_CODES) expect(isErrorCode(code)).toBe(true);
    for (const value of [
      '',
      'timeout',
      'NOPE',
      'toString',
      'constructor',
      1,
      null,
      undefined,
      {},
    ]) {
      expect(isErrorCode(value)).toBe(false);
    }
  });

  test('errors - code values equal their keys', () => {
    for (const [key, value] of Object.entries(ErrorCode)) expect(value).toBe(key);
  });
});
