import { expect } from 'vitest';
import { ErrorCode, SwitchboardError } from '../../src/protocol/errors.js';

/** Runs `fn`, expects it to throw a BAD_REQUEST SwitchboardError (completion `no`), returns its message. */
export function expectBadRequest(fn: () => unknown): string {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(SwitchboardError);
  const err = thrown as SwitchboardError;
  expect(err.code).toBe(ErrorCode.BAD_REQUEST);
  expect(err.completed).toBe('no');
  return err.message;
}
