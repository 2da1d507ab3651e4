/**
 * The calls a relay holds while they run, so that a cancel notice can follow
 * each one to where it is now.
 */
import { describe, expect, test } from 'vitest';
import { failover, HeldCalls } from '../../src/core/index.js';
import { ErrorCode } from '../../src/protocol/index.js';
import {
  args,
  callMeta,
  failure,
  frozenClock,
  MemoryInvoker,
  result,
} from '../support/memory-site.js';

const NOW = frozenClock();

describe('held calls', () => {
  test('held calls - a cancel notice goes to where the call is now; an unknown call id is dropped', () => {
    const held = new HeldCalls();
    const invoker = new MemoryInvoker();
    const position = { subject: 'first' };
    held.hold('c1', position);
    position.subject = 'second';
    expect(held.cancel(callMeta('calc', { callId: 'c1' }), invoker)).toBe(true);
    expect(held.cancel(callMeta('calc', { callId: 'c2' }), invoker)).toBe(false);
    expect(invoker.cancels).toEqual([{ subject: 'second', callId: 'c1' }]);
    expect(held.held(['c2', 'c1'])).toEqual(['c1']);
  });

  test('held calls - a call that settles leaves a later call of the same id held', () => {
    const held = new HeldCalls();
    const earlier = { subject: 'earlier' };
    const later = { subject: 'later' };
    held.hold('c1', earlier);
    held.hold('c1', later);
    held.release('c1', earlier);
    expect(held.held(['c1'])).toEqual(['c1']);
    held.release('c1', later);
    expect(held.size).toBe(0);
  });

  test('held calls - failover holds a call while it runs and releases it however it ends', async () => {
    const held = new HeldCalls();
    const invoker = new MemoryInvoker();
    const sizes: number[] = [];
    invoker.on('ok', () => {
      sizes.push(held.size);
      return result(1);
    });
    invoker.on('bad', () => failure(ErrorCode.INTERNAL, 'no'));
    for (const subject of ['ok', 'bad']) {
      const picker = { site: 'a', subject, next: () => ({ subject, end: () => {} }) };
      const call = { meta: callMeta('calc'), body: args(), deadline: NOW + 100, idempotent: false };
      await failover(invoker, { ...call, heldIn: held }, picker);
    }
    expect(sizes).toEqual([1]);
    expect(held.size).toBe(0);
  });
});
