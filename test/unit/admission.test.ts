/**
 * The server's admission queue with fake timers: concurrency, queueing,
 * deadlines, cancel notices and draining, without NATS.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ErrorCode, type SwitchboardError } from '../../src/protocol/index.js';
import { Admission } from '../../src/proxies/admission.js';
import type { AdmittedCall, Outcome } from '../../src/proxies/call-context.js';
import type { CallContext } from '../../src/proxies/types.js';
import { callMeta } from '../support/memory-site.js';

const NOW = 1_700_000_000_000;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
});

/** A call whose handler is `handler`; its answers are recorded. */
function admitted(
  handler: (ctx: CallContext) => unknown,
  { budgetMs = 1000, callId = 'c1' }: { budgetMs?: number; callId?: string } = {},
) {
  const answers: Outcome[] = [];
  const contexts: CallContext[] = [];
  const call: AdmittedCall = {
    meta: callMeta('svc', { callId, budgetMs, method: 'work' }),
    deadline: NOW + budgetMs,
    run: (ctx) => {
      contexts.push(ctx);
      return handler(ctx);
    },
    answer: (outcome) => answers.push(outcome),
  };
  return { call, answers, contexts };
}

/** A handler that returns a promise settled by hand. */
function deferred() {
  let resolve!: (value: unknown) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function refusal(outcome: Outcome | undefined): SwitchboardError {
  if (outcome?.kind !== 'refused') throw new Error(`expected a refusal, got ${outcome?.kind}`);
  return outcome.error;
}

describe('admission', () => {
  test('admission - a synchronous result is answered at once and takes no slot', () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 0 });
    const { call, answers } = admitted(() => 42);
    admission.admit(call);
    expect(answers).toEqual([{ kind: 'result', value: 42 }]);
    expect(admission.active).toBe(0);
  });

  test('admission - a synchronous throw is answered as thrown', () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 0 });
    const boom = new Error('boom');
    const { call, answers } = admitted(() => {
      throw boom;
    });
    admission.admit(call);
    expect(answers).toEqual([{ kind: 'thrown', thrown: boom }]);
  });

  test('admission - the handler gets a read-only context with the deadline', () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 0 });
    const { call, contexts } = admitted(() => 1, { budgetMs: 500 });
    admission.admit(call);
    const ctx = contexts[0]!;
    expect(ctx).toMatchObject({
      service: 'svc',
      method: 'work',
      callId: 'c1',
      deadline: NOW + 500,
    });
    expect(Object.keys(ctx)).not.toContain('abort');
    expect(() => {
      (ctx as { deadline: number }).deadline = 0;
    }).toThrow(TypeError);
  });

  test('admission - a budget of 0 is refused with TIMEOUT, completion no, and the handler never runs', () => {
    const admission = new Admission({ maxConcurrent: 4, maxQueued: 4 });
    const handler = vi.fn();
    const { call, answers } = admitted(handler, { budgetMs: 0 });
    admission.admit(call);
    expect(refusal(answers[0])).toMatchObject({ code: ErrorCode.TIMEOUT, completed: 'no' });
    expect(refusal(answers[0]).message).toBe('deadline passed before the call reached the server');
    expect(handler).not.toHaveBeenCalled();
  });

  test('admission - a budget of 0 is refused at once even when every slot is taken, never queued', () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 4 });
    admission.admit(admitted(() => deferred().promise, { callId: 'busy' }).call);
    const { call, answers } = admitted(vi.fn(), { budgetMs: 0 });
    admission.admit(call);
    expect(admission.queued).toBe(0);
    expect(refusal(answers[0])).toMatchObject({ code: ErrorCode.TIMEOUT, completed: 'no' });
  });

  test('admission - calls beyond the limit wait, and run as slots free', async () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 1 });
    const first = deferred();
    const a = admitted(() => first.promise, { callId: 'a' });
    const b = admitted(() => 'b', { callId: 'b' });
    admission.admit(a.call);
    admission.admit(b.call);
    expect(admission.queued).toBe(1);
    expect(b.contexts).toHaveLength(0);
    first.resolve('a');
    await vi.waitFor(() => expect(b.answers).toEqual([{ kind: 'result', value: 'b' }]));
    expect(a.answers).toEqual([{ kind: 'result', value: 'a' }]);
    expect(admission.active).toBe(0);
  });

  test('admission - held names the listed calls queued or running unanswered, no others', async () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 1 });
    const first = deferred();
    admission.admit(admitted(() => first.promise, { callId: 'running' }).call);
    admission.admit(admitted(() => 'later', { callId: 'queued' }).call);
    expect(admission.held(['ghost', 'queued', 'running'])).toEqual(['queued', 'running']);
    first.resolve('done');
    await vi.waitFor(() => expect(admission.active).toBe(0));
    expect(admission.held(['queued', 'running'])).toEqual([]);
  });

  test('admission - a call answered at its deadline is not held, though its handler still runs', async () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 0 });
    admission.admit(admitted(() => deferred().promise, { callId: 'slow', budgetMs: 100 }).call);
    await vi.advanceTimersByTimeAsync(100);
    expect(admission.active).toBe(1);
    expect(admission.held(['slow'])).toEqual([]);
  });

  test('admission - a full queue refuses with UNAVAILABLE, completion no', () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 1 });
    admission.admit(admitted(() => deferred().promise).call);
    admission.admit(admitted(() => 1).call);
    const third = admitted(() => 1);
    admission.admit(third.call);
    expect(refusal(third.answers[0])).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
    });
    expect(refusal(third.answers[0]).message).toMatch(/queue full/);
  });

  test('admission - a call whose deadline passed while queued is refused with TIMEOUT, completion no', async () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 1 });
    const first = deferred();
    admission.admit(admitted(() => first.promise, { budgetMs: 5000 }).call);
    const handler = vi.fn();
    const queued = admitted(handler, { callId: 'q', budgetMs: 100 });
    admission.admit(queued.call);
    vi.setSystemTime(NOW + 100);
    first.resolve(1);
    await vi.waitFor(() => expect(queued.answers).toHaveLength(1));
    expect(refusal(queued.answers[0])).toMatchObject({ code: ErrorCode.TIMEOUT, completed: 'no' });
    expect(refusal(queued.answers[0]).message).toMatch(/while the call was queued/);
    expect(handler).not.toHaveBeenCalled();
  });

  test('admission - the deadline answers TIMEOUT maybe and aborts the signal; the slot frees when the handler settles', async () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 1 });
    const work = deferred();
    const slow = admitted(() => work.promise, { budgetMs: 200 });
    admission.admit(slow.call);
    const next = admitted(() => 'next', { callId: 'n', budgetMs: 5000 });
    admission.admit(next.call);
    await vi.advanceTimersByTimeAsync(199);
    expect(slow.answers).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(refusal(slow.answers[0])).toMatchObject({ code: ErrorCode.TIMEOUT, completed: 'maybe' });
    expect(slow.contexts[0]?.signal.aborted).toBe(true);
    expect(admission.active).toBe(1);
    expect(next.answers).toHaveLength(0);
    work.resolve('late');
    await vi.waitFor(() => expect(next.answers).toHaveLength(1));
    expect(slow.answers).toHaveLength(1);
  });

  test('admission - running handlers time out each at its own deadline, sharing one timer', async () => {
    const admission = new Admission({ maxConcurrent: 8, maxQueued: 0 });
    const works = [300, 100, 200, 400].map((budgetMs, i) => {
      const work = deferred();
      const call = admitted(() => work.promise, { budgetMs, callId: `c${i}` });
      admission.admit(call.call);
      return { budgetMs, work, call };
    });
    expect(vi.getTimerCount()).toBe(1);
    for (const at of [100, 200, 300]) {
      await vi.advanceTimersByTimeAsync(at - (Date.now() - NOW));
      const timedOut = works.filter((w) => w.call.answers.length > 0).map((w) => w.budgetMs);
      expect(timedOut.sort((a, b) => a - b)).toEqual([100, 200, 300].filter((t) => t <= at));
    }
    // The one left answers before its deadline: the idle timer (keeping
    // nothing alive) fires at that deadline, times out nothing, and ends.
    works[3]!.work.resolve('done');
    for (const { work } of works.slice(0, 3)) work.resolve('late');
    await vi.waitFor(() => expect(admission.active).toBe(0));
    expect(works[3]!.call.answers).toEqual([{ kind: 'result', value: 'done' }]);
    await vi.advanceTimersByTimeAsync(400 - (Date.now() - NOW));
    expect(vi.getTimerCount()).toBe(0);
    expect(works[3]!.call.answers).toHaveLength(1);
  });

  test('admission - a cancel notice aborts the handler and answers CANCELLED maybe', async () => {
    const admission = new Admission({ maxConcurrent: 2, maxQueued: 0 });
    const running = admitted(
      (ctx) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        ),
      { callId: 'k' },
    );
    admission.admit(running.call);
    admission.cancel('other');
    expect(running.answers).toHaveLength(0);
    admission.cancel('k');
    expect(refusal(running.answers[0])).toMatchObject({
      code: ErrorCode.CANCELLED,
      completed: 'maybe',
    });
    await vi.waitFor(() => expect(admission.active).toBe(0));
    expect(running.answers).toHaveLength(1);
  });

  test('admission - draining queues nothing more, and resolves once every call is answered', async () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 5 });
    const work = deferred();
    admission.admit(admitted(() => work.promise).call);
    const drained = vi.fn();
    const draining = admission.drain(10_000).then(drained);
    const late = admitted(() => 1, { callId: 'late' });
    admission.admit(late.call);
    expect(refusal(late.answers[0])).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
    });
    await vi.advanceTimersByTimeAsync(50);
    expect(drained).not.toHaveBeenCalled();
    work.resolve('done');
    await draining;
    expect(drained).toHaveBeenCalled();
  });

  test('admission - draining past its timeout refuses queued calls (no) and aborts running ones (maybe)', async () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 5 });
    const running = admitted(() => deferred().promise, { budgetMs: 60_000 });
    const queued = admitted(() => 1, { callId: 'q', budgetMs: 60_000 });
    admission.admit(running.call);
    admission.admit(queued.call);
    const draining = admission.drain(300);
    await vi.advanceTimersByTimeAsync(300);
    await draining;
    expect(refusal(queued.answers[0])).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
    });
    expect(refusal(running.answers[0])).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'maybe',
    });
    expect(running.contexts[0]?.signal.aborted).toBe(true);
    expect(admission.active).toBe(0);
  });

  test('admission - the timer left idle by the last handler is cleared by draining', async () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 0 });
    const work = deferred();
    const { call, answers } = admitted(() => work.promise, { budgetMs: 60_000 });
    admission.admit(call);
    work.resolve('done');
    await vi.waitFor(() => expect(admission.active).toBe(0));
    expect(answers).toEqual([{ kind: 'result', value: 'done' }]);
    expect(vi.getTimerCount()).toBe(1);
    await admission.drain(1000);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('admission - after the last handler no timer keeps the process alive', async () => {
    vi.useRealTimers();
    const live = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 0 });
    const before = live();
    const work = deferred();
    const { call, answers } = admitted(() => work.promise, { budgetMs: 60_000 });
    try {
      // Real time: the deadline is a minute from now, not from the fake clock's start.
      admission.admit({ ...call, deadline: Date.now() + 60_000 });
      expect(live()).toBe(before + 1);
      work.resolve('done');
      // Microtasks only: no other timer comes or goes meanwhile.
      for (let turn = 0; turn < 10 && answers.length === 0; turn++) await Promise.resolve();
      expect(answers).toHaveLength(1);
      expect(live()).toBe(before);
    } finally {
      await admission.drain(1000);
    }
  });

  test('admission - a call run after draining leaves no timer', async () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 0 });
    await admission.drain(1000);
    const work = deferred();
    const { call, answers } = admitted(() => work.promise, { budgetMs: 60_000 });
    admission.admit(call);
    work.resolve('done');
    await vi.waitFor(() => expect(answers).toHaveLength(1));
    expect(vi.getTimerCount()).toBe(0);
  });

  test('admission - draining with nothing in flight resolves at once', async () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 1 });
    await admission.drain(10_000);
    expect(vi.getTimerCount()).toBe(0);
  });
});
