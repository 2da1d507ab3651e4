/**
 * The errors a call ends with when there is nowhere (left) to send it: their
 * codes, completions and exact wording.
 */
import { describe, expect, test } from 'vitest';
import { describeService, exhausted, notFound } from '../../src/core/call-errors.js';
import type { Resolution } from '../../src/core/types.js';
import { ErrorCode, SwitchboardError } from '../../src/protocol/index.js';
import { callMeta } from '../support/memory-site.js';

const meta = callMeta('calc', { path: ['a'] });

function resolution(fields: Partial<Resolution> = {}): Resolution {
  return { site: 'a', instances: [], ...fields };
}

describe('call errors', () => {
  test('call errors - a service is named with the version range asked for, when there is one', () => {
    expect(describeService(meta)).toBe('calc');
    expect(describeService(callMeta('calc', { versionRange: '^2.0.0' }))).toBe(
      'calc (version ^2.0.0)',
    );
  });

  test('call errors - not found: a service that left recently is UNAVAILABLE, naming where it was', () => {
    const err = notFound(meta, undefined, resolution({ departedFrom: 'c' }));
    expect(err).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
      site: 'a',
      service: 'calc',
      path: ['a'],
      message: "no live instance of 'calc' (the last one was at site 'c')",
    });
  });

  test('call errors - not found at a pinned site: UNAVAILABLE only when the service left that very site', () => {
    const left = notFound(meta, 'c', resolution({ departedFrom: 'c', departedSites: ['b', 'c'] }));
    expect(left).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      message: "no live instance of 'calc' at site 'c' (it was there recently)",
    });
    for (const departedSites of [['b'], undefined]) {
      const never = notFound(meta, 'c', resolution({ departedFrom: 'b', departedSites }));
      expect(never).toMatchObject({
        code: ErrorCode.SERVICE_NOT_FOUND,
        completed: 'no',
        message: "service 'calc' at site 'c' is not registered",
      });
    }
  });

  test('call errors - not found anywhere: SERVICE_NOT_FOUND, with a suggestion in message and details when there is one', () => {
    const plain = notFound(meta, undefined, resolution());
    expect(plain.message).toBe("service 'calc' is not registered");
    expect(plain.details).toBeUndefined();
    const hinted = notFound(meta, undefined, resolution({ similar: 'calcs' }));
    expect(hinted).toMatchObject({
      code: ErrorCode.SERVICE_NOT_FOUND,
      completed: 'no',
      site: 'a',
      message: "service 'calc' is not registered (did you mean 'calcs'?)",
      details: { didYouMean: 'calcs' },
    });
  });

  test('call errors - exhausted: the last failure stands, unless it only said an instance was gone', () => {
    const error = (code: ErrorCode, completed: 'no' | 'maybe' | 'yes') =>
      new SwitchboardError(code, 'the last failure', { completed });
    for (const last of [
      error(ErrorCode.APPLICATION, 'yes'),
      error(ErrorCode.UNAVAILABLE, 'maybe'),
      error(ErrorCode.TIMEOUT, 'no'),
    ]) {
      expect(exhausted(meta, last, 'a')).toBe(last);
    }
    expect(exhausted(meta, error(ErrorCode.UNAVAILABLE, 'no'), 'a')).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
      site: 'a',
      message: "no live instance of 'calc': the last failure",
    });
    expect(exhausted(meta, undefined, 'a').message).toBe("no live instance of 'calc'");
    // A relay's refusal names the service already; the message names it once.
    const relayed = new SwitchboardError(ErrorCode.UNAVAILABLE, "'calc': bridge busy", {
      completed: 'no',
    });
    expect(exhausted(meta, relayed, 'a').message).toBe("no live instance of 'calc': bridge busy");
    const other = new SwitchboardError(ErrorCode.UNAVAILABLE, "'calcs': gone", { completed: 'no' });
    expect(exhausted(meta, other, 'a').message).toBe("no live instance of 'calc': 'calcs': gone");
  });
});
