/**
 * The one failover loop, driven through the client's Dispatcher over the
 * in-memory seams: which instance each attempt goes to, what the call carries,
 * when it moves on and when it must not.
 */
import { describe, expect, test, vi } from 'vitest';
import {
  canRetry,
  type FailoverCall,
  failover,
  HeldCalls,
  viaBroker,
} from '../../src/core/index.js';
import type { CallReply } from '../../src/core/types.js';
import { ErrorCode, SwitchboardError } from '../../src/protocol/index.js';
import {
  args,
  callMeta,
  errorOf,
  errorReply,
  failure,
  frozenClock,
  MemoryBrokerClient,
  MemoryInvoker,
  memoryDispatcher,
  result,
  resultOf,
  seed,
  subjects,
} from '../support/memory-site.js';

const NOW = frozenClock();

function clientAt(site = 'a') {
  const brokers = new MemoryBrokerClient(site);
  const invoker = new MemoryInvoker();
  return { brokers, invoker, ...memoryDispatcher(brokers, invoker) };
}

function call(service: string, fields: Partial<FailoverCall> = {}): FailoverCall {
  return {
    meta: callMeta(service),
    body: args(1, 2),
    deadline: NOW + 1000,
    idempotent: false,
    ...fields,
  };
}

/**
 * A picker that sends attempt n to `places[n]` (then says there is no place
 * left), running `onPick` before each pick and keeping what each attempt ended with.
 */
function scriptedPicker(places: string[], onPick: () => void = () => {}, atOnce = false) {
  const picker = {
    site: 'a',
    subject: '',
    picks: 0,
    ended: [] as Array<SwitchboardError | undefined>,
    next: () => {
      onPick();
      const place = places[picker.picks++];
      const pick =
        place === undefined
          ? new SwitchboardError(ErrorCode.UNAVAILABLE, 'no place left', { completed: 'no' })
          : {
              subject: place,
              end: (reply: CallReply) => picker.ended.push(reply.ok ? undefined : reply.error),
            };
      return atOnce ? pick : Promise.resolve(pick);
    },
  };
  return picker;
}

describe('failover', () => {
  test('failover - a result from the instance ends the call, with the whole budget and this site as origin', async () => {
    const { brokers, invoker, dispatcher, balancer } = clientAt('a');
    seed(brokers, 'i1', 'calc');
    invoker.on('i1', () => result(3));
    const reply = await dispatcher.dispatch(call('calc'));
    expect(resultOf(reply)).toBe(3);
    expect(invoker.sent).toHaveLength(1);
    expect(invoker.sent[0]).toMatchObject({
      to: 'i1',
      timeoutMs: 1000,
      meta: { budgetMs: 1000, path: ['a'], site: undefined },
    });
    expect(balancer.outstanding('i1')).toBe(0);
  });

  test('failover - the budget sent is what is left of the deadline', async () => {
    const { brokers, invoker, dispatcher } = clientAt();
    seed(brokers, 'i1', 'calc');
    invoker.on('i1', () => result(1));
    await dispatcher.dispatch(call('calc', { deadline: NOW + 737 }));
    expect(invoker.sent[0]?.meta.budgetMs).toBe(737);
    expect(invoker.sent[0]?.timeoutMs).toBe(737);
  });

  test('failover - no responders moves on to another instance, forgets the dead one and shrinks the budget', async () => {
    const { brokers, invoker, dispatcher, resolver, balancer } = clientAt();
    seed(brokers, 'i1', 'calc');
    seed(brokers, 'i2', 'calc');
    invoker.on('i1', () => {
      vi.setSystemTime(NOW + 40);
      return failure(ErrorCode.UNAVAILABLE, 'no', 'no responders');
    });
    invoker.on('i2', () => {
      vi.setSystemTime(NOW + 40);
      return failure(ErrorCode.UNAVAILABLE, 'no', 'no responders');
    });
    // Whichever comes first fails; make the other one answer.
    const first = await dispatcher.dispatch(
      call('calc', { meta: callMeta('calc', { callId: 'x' }) }),
    );
    expect(errorOf(first).code).toBe(ErrorCode.UNAVAILABLE);
    expect(invoker.sent.map((s) => s.to).sort()).toEqual(['i1', 'i2']);
    expect(invoker.sent[1]?.meta.budgetMs).toBe(960);
    expect(errorOf(first).message).toMatch(/no live instance of 'calc'/);
    // Both were forgotten by the cache; the registry still lists them.
    expect(resolver.cached('calc', undefined)?.instances).toEqual([]);
    expect(balancer.outstanding('i1') + balancer.outstanding('i2')).toBe(0);
  });

  test('failover - an instance found gone leaves the service known: UNAVAILABLE, never SERVICE_NOT_FOUND', async () => {
    const { brokers, invoker, dispatcher } = clientAt('a');
    seed(brokers, 'i1', 'calc', { route: { site: 'c', path: ['b', 'c'] } });
    invoker.on('i1', () => failure(ErrorCode.UNAVAILABLE, 'no', 'no responders'));
    expect(errorOf(await dispatcher.dispatch(call('calc'))).code).toBe(ErrorCode.UNAVAILABLE);
    const again = errorOf(await dispatcher.dispatch(call('calc')));
    expect(again.code).toBe(ErrorCode.UNAVAILABLE);
    expect(again.message).toMatch(/the last one was at site 'c'/);
  });

  test('failover - an error reply with completion no moves on, but does not make the instance forgotten', async () => {
    const { brokers, invoker, dispatcher, resolver } = clientAt();
    seed(brokers, 'i1', 'calc');
    seed(brokers, 'i2', 'calc');
    const busy = errorReply(ErrorCode.UNAVAILABLE, 'no', 'server busy');
    invoker.on('i1', () => busy);
    invoker.on('i2', () => busy);
    const reply = await dispatcher.dispatch(call('calc'));
    expect(invoker.sent).toHaveLength(2);
    expect(errorOf(reply).message).toMatch(/server busy/);
    expect(resolver.cached('calc', undefined)?.instances).toHaveLength(2);
  });

  test('failover - completion maybe is not retried for a call that is not idempotent', async () => {
    const { brokers, invoker, dispatcher } = clientAt();
    seed(brokers, 'i1', 'calc');
    seed(brokers, 'i2', 'calc');
    invoker.on('i1', () => failure(ErrorCode.TIMEOUT, 'maybe'));
    invoker.on('i2', () => failure(ErrorCode.TIMEOUT, 'maybe'));
    const reply = await dispatcher.dispatch(call('calc'));
    expect(errorOf(reply)).toMatchObject({ code: ErrorCode.TIMEOUT, completed: 'maybe' });
    expect(invoker.sent).toHaveLength(1);
  });

  test('failover - completion maybe is retried elsewhere for an idempotent call', async () => {
    const { brokers, invoker, dispatcher } = clientAt();
    seed(brokers, 'i1', 'calc');
    seed(brokers, 'i2', 'calc');
    let calls = 0;
    const flaky = () => (calls++ === 0 ? failure(ErrorCode.UNAVAILABLE, 'maybe') : result('ok'));
    invoker.on('i1', flaky);
    invoker.on('i2', flaky);
    const reply = await dispatcher.dispatch(call('calc', { idempotent: true }));
    expect(resultOf(reply)).toBe('ok');
    expect(new Set(invoker.sent.map((s) => s.to)).size).toBe(2);
  });

  test('failover - a code that is not retryable is never retried, whatever its completion', async () => {
    const { brokers, invoker, dispatcher } = clientAt();
    seed(brokers, 'i1', 'calc');
    seed(brokers, 'i2', 'calc');
    invoker.on('i1', () => errorReply(ErrorCode.BAD_REQUEST, 'no'));
    invoker.on('i2', () => errorReply(ErrorCode.BAD_REQUEST, 'no'));
    const reply = await dispatcher.dispatch(call('calc', { idempotent: true }));
    expect(errorOf(reply).code).toBe(ErrorCode.BAD_REQUEST);
    expect(invoker.sent).toHaveLength(1);
  });

  test('failover - an application error is passed on as it came, body and all', async () => {
    const { brokers, invoker, dispatcher } = clientAt();
    seed(brokers, 'i1', 'calc');
    const thrown = errorReply(ErrorCode.APPLICATION, 'yes', 'divide by zero');
    invoker.on('i1', () => thrown);
    expect(await dispatcher.dispatch(call('calc'))).toBe(thrown);
  });

  test('failover - an unknown service is SERVICE_NOT_FOUND, stamped with the caller site', async () => {
    const { dispatcher } = clientAt('a');
    const err = errorOf(await dispatcher.dispatch(call('nope')));
    expect(err).toMatchObject({
      code: ErrorCode.SERVICE_NOT_FOUND,
      completed: 'no',
      site: 'a',
      service: 'nope',
    });
    expect(err.message).toBe("service 'nope' is not registered");
  });

  test('failover - a service whose last instance left is UNAVAILABLE, naming where it was', async () => {
    const { brokers, dispatcher } = clientAt('a');
    seed(brokers, 'i1', 'calc');
    brokers.registry.deregister('i1');
    const err = errorOf(await dispatcher.dispatch(call('calc')));
    expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    expect(err.message).toMatch(/last one was at site 'a'/);
  });

  test('failover - a pinned site only reaches instances hosted there', async () => {
    const { brokers, invoker, dispatcher } = clientAt('a');
    seed(brokers, 'local', 'calc');
    seed(brokers, 'toB', 'calc', { route: { site: 'b', path: ['b'] } });
    invoker.on('local', () => result('a'));
    invoker.on('toB', () => result('b'));
    const reply = await dispatcher.dispatch(
      call('calc', { meta: callMeta('calc', { site: 'b' }) }),
    );
    expect(resultOf(reply)).toBe('b');
    expect(invoker.sent.map((s) => [s.to, s.meta.site])).toEqual([['toB', 'b']]);
  });

  test('failover - a pinned site with no instance is SERVICE_NOT_FOUND at that site', async () => {
    const { brokers, dispatcher } = clientAt('a');
    seed(brokers, 'local', 'calc');
    const err = errorOf(
      await dispatcher.dispatch(call('calc', { meta: callMeta('calc', { site: 'b' }) })),
    );
    expect(err.code).toBe(ErrorCode.SERVICE_NOT_FOUND);
    expect(err.message).toBe("service 'calc' at site 'b' is not registered");
  });

  test('failover - a remote route keeps the call heading for the site it chose', async () => {
    const { brokers, invoker, dispatcher } = clientAt('a');
    seed(brokers, 'toC', 'calc', { route: { site: 'c', path: ['b', 'c'] } });
    invoker.on('toC', () => result(1));
    await dispatcher.dispatch(call('calc'));
    expect(invoker.sent[0]?.meta).toMatchObject({ site: 'c', path: ['a'] });
  });

  test('failover - the nearest instances are chosen first', async () => {
    const { brokers, invoker, dispatcher } = clientAt('a');
    seed(brokers, 'far', 'calc', { route: { site: 'c', path: ['b', 'c'] } });
    seed(brokers, 'near', 'calc', { route: { site: 'b', path: ['b'] } });
    invoker.on('far', () => result('far'));
    invoker.on('near', () => result('near'));
    for (let i = 0; i < 3; i++)
      expect(resultOf(await dispatcher.dispatch(call('calc')))).toBe('near');
  });

  test('failover - a deadline already passed sends nothing and is TIMEOUT with completion no', async () => {
    const { brokers, invoker, dispatcher } = clientAt('a');
    seed(brokers, 'i1', 'calc');
    invoker.on('i1', () => result(1));
    const err = errorOf(await dispatcher.dispatch(call('calc', { deadline: NOW })));
    expect(err).toMatchObject({ code: ErrorCode.TIMEOUT, completed: 'no' });
    expect(invoker.sent).toHaveLength(0);
  });

  test('failover - when the deadline passes between attempts, the last failure is what the caller sees', async () => {
    const { brokers, invoker, dispatcher, balancer } = clientAt();
    seed(brokers, 'i1', 'calc');
    seed(brokers, 'i2', 'calc');
    const gone = () => {
      vi.setSystemTime(NOW + 2000);
      return failure(ErrorCode.UNAVAILABLE, 'no', 'no responders');
    };
    invoker.on('i1', gone);
    invoker.on('i2', gone);
    const err = errorOf(await dispatcher.dispatch(call('calc')));
    expect(err.message).toMatch(/no responders/);
    expect(invoker.sent).toHaveLength(1);
    expect(balancer.outstanding('i1') + balancer.outstanding('i2')).toBe(0);
  });

  test('failover - no broker to ask is UNAVAILABLE with completion no', async () => {
    const { brokers, invoker, dispatcher } = clientAt();
    brokers.available = false;
    const err = errorOf(await dispatcher.dispatch(call('calc')));
    expect(err).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'no' });
    expect(invoker.sent).toHaveLength(0);
  });

  test('failover - a thin client asks its broker at most three times, and only when that is safe', async () => {
    const subject = subjects.call('calc');
    const invoker = new MemoryInvoker();
    invoker.on(subject, () => errorReply(ErrorCode.UNAVAILABLE, 'no', 'gone'));
    const reply = await viaBroker(invoker, call('calc'), subject, 'a');
    expect(errorOf(reply)).toMatchObject({ code: ErrorCode.UNAVAILABLE, message: 'gone' });
    expect(invoker.sent.map((s) => s.subject)).toEqual([subject, subject, subject]);

    const once = new MemoryInvoker();
    once.on(subject, () => errorReply(ErrorCode.UNAVAILABLE, 'maybe'));
    await viaBroker(once, call('calc'), subject, 'a');
    expect(once.sent).toHaveLength(1);
  });

  test('failover - a thin client whose broker answers on the third attempt gets the result', async () => {
    const subject = subjects.call('calc');
    const invoker = new MemoryInvoker();
    let attempts = 0;
    invoker.on(subject, () =>
      ++attempts < 3 ? errorReply(ErrorCode.UNAVAILABLE, 'no') : result('third'),
    );
    expect(resultOf(await viaBroker(invoker, call('calc'), subject, 'a'))).toBe('third');
    expect(invoker.sent).toHaveLength(3);
  });

  test('failover - a call cut off by our own link going down may go to the same instance again', async () => {
    const { brokers, invoker, dispatcher } = clientAt();
    seed(brokers, 'only', 'calc');
    let calls = 0;
    invoker.on('only', () =>
      calls++ === 0
        ? {
            ok: false,
            error: new SwitchboardError(ErrorCode.UNAVAILABLE, 'link', { completed: 'maybe' }),
            linkDown: true,
          }
        : result('again'),
    );
    expect(resultOf(await dispatcher.dispatch(call('calc', { idempotent: true })))).toBe('again');
    expect(invoker.sent.map((s) => s.to)).toEqual(['only', 'only']);
  });

  test('failover - a call lost on the way (UNAVAILABLE, maybe) may take the same place once more when idempotent', async () => {
    const { brokers, invoker, dispatcher } = clientAt();
    seed(brokers, 'route', 'calc');
    let calls = 0;
    invoker.on('route', () =>
      calls++ === 0 ? failure(ErrorCode.UNAVAILABLE, 'maybe') : result('ok'),
    );
    expect(resultOf(await dispatcher.dispatch(call('calc', { idempotent: true })))).toBe('ok');
    expect(invoker.sent.map((s) => s.to)).toEqual(['route', 'route']);
  });

  test('failover - a call that may have run is never reported completion no by a later attempt', async () => {
    const { brokers, invoker, dispatcher } = clientAt();
    seed(brokers, 'route', 'calc');
    let calls = 0;
    invoker.on('route', () =>
      calls++ === 0
        ? failure(ErrorCode.UNAVAILABLE, 'maybe')
        : failure(ErrorCode.UNAVAILABLE, 'no'),
    );
    const reply = await dispatcher.dispatch(call('calc', { idempotent: true }));
    expect(errorOf(reply)).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'maybe' });
    expect(invoker.sent.map((s) => s.to)).toEqual(['route', 'route']);
  });

  test('failover - a place that loses the call twice is not tried a third time', async () => {
    const { brokers, invoker, dispatcher } = clientAt();
    seed(brokers, 'route', 'calc');
    invoker.on('route', () => failure(ErrorCode.UNAVAILABLE, 'maybe'));
    const reply = await dispatcher.dispatch(call('calc', { idempotent: true }));
    expect(errorOf(reply)).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'maybe' });
    expect(invoker.sent.map((s) => s.to)).toEqual(['route', 'route']);
  });

  test('failover - an instance that keeps timing out is avoided while another answers', async () => {
    const { brokers, invoker, dispatcher, balancer } = clientAt();
    seed(brokers, 'stuck', 'calc');
    seed(brokers, 'fine', 'calc');
    invoker.on('stuck', () => failure(ErrorCode.TIMEOUT, 'maybe'));
    invoker.on('fine', () => result('ok'));
    for (let i = 0; i < 12; i++) await dispatcher.dispatch(call('calc'));
    expect(balancer.isEjected('stuck')).toBe(true);
    const before = invoker.sent.length;
    for (let i = 0; i < 6; i++)
      expect(resultOf(await dispatcher.dispatch(call('calc')))).toBe('ok');
    expect(invoker.sent.slice(before).map((s) => s.to)).toEqual(Array(6).fill('fine'));
  });

  test('failover - a pinned site a service left recently is UNAVAILABLE there, not SERVICE_NOT_FOUND', async () => {
    const { brokers, dispatcher } = clientAt('a');
    seed(brokers, 'local', 'calc');
    seed(brokers, 'toC', 'calc', { route: { site: 'c', path: ['b', 'c'] } });
    brokers.registry.deregister('toC');
    const err = errorOf(
      await dispatcher.dispatch(call('calc', { meta: callMeta('calc', { site: 'c' }) })),
    );
    expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    expect(err.message).toBe("no live instance of 'calc' at site 'c' (it was there recently)");
  });

  test('failover - a picker failing after an attempt that may have run keeps completion maybe', async () => {
    const invoker = new MemoryInvoker();
    invoker.on('i1', () => failure(ErrorCode.UNAVAILABLE, 'maybe', 'instance left'));
    const noBroker = new SwitchboardError(ErrorCode.UNAVAILABLE, 'no broker', { completed: 'no' });
    let picks = 0;
    const picker = {
      site: 'a',
      subject: '',
      next: () => (picks++ === 0 ? { subject: 'i1', end: () => {} } : noBroker),
    };
    const err = errorOf(await failover(invoker, call('calc', { idempotent: true }), picker));
    expect(picks).toBe(2);
    expect(err).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'maybe' });
    expect(err.message).toMatch(/instance left/);
  });

  test('failover - a call cut off by our own link again and again keeps its instance', async () => {
    const { brokers, invoker, dispatcher, balancer } = clientAt();
    seed(brokers, 'only', 'calc');
    let calls = 0;
    invoker.on('only', () =>
      calls++ < 2
        ? {
            ok: false,
            error: new SwitchboardError(ErrorCode.UNAVAILABLE, 'link', { completed: 'maybe' }),
            linkDown: true,
          }
        : result('third'),
    );
    expect(resultOf(await dispatcher.dispatch(call('calc', { idempotent: true })))).toBe('third');
    expect(invoker.sent.map((s) => s.to)).toEqual(['only', 'only', 'only']);
    expect(balancer.isEjected('only')).toBe(false);
  });

  test('failover - only a timeout counts towards ejection; an answer, even an error, ends the streak', async () => {
    const { brokers, invoker, dispatcher, balancer } = clientAt();
    seed(brokers, 'i1', 'calc');
    const replies = [
      failure(ErrorCode.TIMEOUT, 'maybe'),
      failure(ErrorCode.TIMEOUT, 'maybe'),
      errorReply(ErrorCode.APPLICATION, 'yes', 'answered'),
      failure(ErrorCode.TIMEOUT, 'maybe'),
      failure(ErrorCode.TIMEOUT, 'maybe'),
      failure(ErrorCode.INTERNAL, 'no', 'not sent'),
      failure(ErrorCode.INTERNAL, 'no', 'not sent'),
    ];
    let n = 0;
    invoker.on('i1', () => replies[n++] ?? result('ok'));
    for (let i = 0; i < replies.length; i++) await dispatcher.dispatch(call('calc'));
    expect(balancer.isEjected('i1')).toBe(false);
    invoker.on('i1', () => failure(ErrorCode.TIMEOUT, 'maybe'));
    await dispatcher.dispatch(call('calc'));
    expect(balancer.isEjected('i1')).toBe(true);
  });

  test('failover - only no responders makes an instance forgotten: not a failure that may have run, nor one before sending', async () => {
    const { brokers, invoker, dispatcher, resolver } = clientAt();
    seed(brokers, 'i1', 'calc');
    invoker.on('i1', () => failure(ErrorCode.UNAVAILABLE, 'maybe', 'lost'));
    await dispatcher.dispatch(call('calc', { idempotent: true }));
    expect(invoker.sent).toHaveLength(2);
    invoker.on('i1', () => failure(ErrorCode.TIMEOUT, 'no', 'not sent in time'));
    await dispatcher.dispatch(call('calc'));
    expect(resolver.cached('calc', undefined)?.instances.map((i) => i.id)).toEqual(['i1']);
    invoker.on('i1', () => failure(ErrorCode.UNAVAILABLE, 'no', 'no responders'));
    await dispatcher.dispatch(call('calc'));
    expect(resolver.cached('calc', undefined)?.instances).toEqual([]);
  });

  test('failover - a picker or an invoker that throws rejects the call, and leaves nothing held', async () => {
    const held = new HeldCalls();
    const throwing = {
      site: 'a',
      subject: '',
      next: () => {
        throw new Error('picker broke');
      },
    };
    const invoker = new MemoryInvoker();
    await expect(failover(invoker, call('calc', { heldIn: held }), throwing)).rejects.toThrow(
      'picker broke',
    );
    expect(held.size).toBe(0);
    const broken = Object.assign(new MemoryInvoker(), {
      invoke: () => {
        throw new Error('invoker broke');
      },
    });
    const picker = scriptedPicker(['i1'], undefined, true);
    await expect(failover(broken, call('calc', { heldIn: held }), picker)).rejects.toThrow(
      'invoker broke',
    );
    expect(held.size).toBe(0);
  });

  test('failover - canRetry: retryable codes only; maybe only when idempotent', () => {
    const err = (code: ErrorCode, completed: 'yes' | 'no' | 'maybe') =>
      new SwitchboardError(code, 'x', { completed });
    expect(canRetry(err(ErrorCode.UNAVAILABLE, 'no'), false)).toBe(true);
    expect(canRetry(err(ErrorCode.TIMEOUT, 'no'), false)).toBe(true);
    expect(canRetry(err(ErrorCode.UNAVAILABLE, 'maybe'), false)).toBe(false);
    expect(canRetry(err(ErrorCode.UNAVAILABLE, 'maybe'), true)).toBe(true);
    expect(canRetry(err(ErrorCode.UNAVAILABLE, 'yes'), true)).toBe(false);
    expect(canRetry(err(ErrorCode.APPLICATION, 'no'), true)).toBe(false);
    expect(canRetry(err(ErrorCode.INTERNAL, 'no'), true)).toBe(false);
  });
});

describe.each([
  ['picks that come later', false],
  ['picks known at once', true],
])('failover with %s', (_, atOnce) => {
  test('a deadline passed before the first pick asks no picker and names the method', async () => {
    const picker = scriptedPicker(['i1'], undefined, atOnce);
    const invoker = new MemoryInvoker();
    const err = errorOf(await failover(invoker, call('calc', { deadline: NOW }), picker));
    expect(err).toMatchObject({ code: ErrorCode.TIMEOUT, completed: 'no', site: 'a' });
    expect(err.message).toBe('calc.m: deadline passed');
    expect(picker.picks).toBe(0);
    expect(invoker.sent).toHaveLength(0);
  });

  test('a pick that takes the rest of the budget ends its attempt unsent, with TIMEOUT', async () => {
    const picker = scriptedPicker(['i1'], () => vi.setSystemTime(NOW + 1000), atOnce);
    const invoker = new MemoryInvoker();
    invoker.on('i1', () => result('late'));
    const err = errorOf(await failover(invoker, call('calc'), picker));
    expect(err).toMatchObject({ code: ErrorCode.TIMEOUT, completed: 'no' });
    expect(picker.ended).toEqual([err]);
    expect(invoker.sent).toHaveLength(0);
  });

  test('a pick that takes the rest of the budget after a failure reports that failure', async () => {
    let picks = 0;
    const picker = scriptedPicker(
      ['i1', 'i2'],
      () => {
        if (picks++ === 1) vi.setSystemTime(NOW + 1000);
      },
      atOnce,
    );
    const invoker = new MemoryInvoker();
    invoker.on('i1', () => failure(ErrorCode.UNAVAILABLE, 'no', 'i1 left'));
    invoker.on('i2', () => result('late'));
    const err = errorOf(await failover(invoker, call('calc'), picker));
    expect(err.message).toBe('i1 left');
    expect(picker.ended.map((e) => e?.message)).toEqual(['i1 left', 'i1 left']);
    expect(invoker.sent.map((s) => s.to)).toEqual(['i1']);
  });

  test('a final failure with completion no after one that may have run reports maybe', async () => {
    const picker = scriptedPicker(['i1', 'i2'], undefined, atOnce);
    const invoker = new MemoryInvoker();
    invoker.on('i1', () => failure(ErrorCode.UNAVAILABLE, 'maybe', 'lost on the way'));
    invoker.on('i2', () => failure(ErrorCode.INTERNAL, 'no', 'refused'));
    const err = errorOf(await failover(invoker, call('calc', { idempotent: true }), picker));
    expect(err).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'maybe' });
    expect(err.message).toBe('lost on the way');
    expect(invoker.sent.map((s) => s.to)).toEqual(['i1', 'i2']);
  });

  test('a failure that must not be retried is passed on as it came when nothing ran before', async () => {
    const picker = scriptedPicker(['i1', 'i2'], undefined, atOnce);
    const invoker = new MemoryInvoker();
    invoker.on('i1', () => failure(ErrorCode.INTERNAL, 'no', 'refused'));
    const err = errorOf(await failover(invoker, call('calc', { idempotent: true }), picker));
    expect(err).toMatchObject({ code: ErrorCode.INTERNAL, completed: 'no', message: 'refused' });
    expect(invoker.sent).toHaveLength(1);
  });

  test('a call held while it runs is released when it ends, retried or not', async () => {
    const held = new HeldCalls();
    const invoker = new MemoryInvoker();
    invoker.on('i1', () => result('ok'));
    const once = scriptedPicker(['i1'], undefined, atOnce);
    const pending = failover(invoker, call('calc', { heldIn: held }), once);
    expect(held.size).toBe(1);
    expect(resultOf(await pending)).toBe('ok');
    expect(held.size).toBe(0);
    invoker.on('i2', () => failure(ErrorCode.UNAVAILABLE, 'no', 'i2 left'));
    const twice = scriptedPicker(['i2', 'i1'], undefined, atOnce);
    expect(resultOf(await failover(invoker, call('calc', { heldIn: held }), twice))).toBe('ok');
    expect(twice.ended).toEqual([expect.objectContaining({ message: 'i2 left' }), undefined]);
    expect(held.size).toBe(0);
  });
});
