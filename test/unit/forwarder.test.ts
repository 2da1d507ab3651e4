/**
 * The broker's forwarding for thin clients, over a real Registry and the
 * in-memory invoker: which instance takes the call, the budget it carries,
 * and what the broker hears back.
 */
import { describe, expect, test, vi } from 'vitest';
import { LoadBalancer } from '../../src/core/index.js';
import { Forwarder, Registry } from '../../src/internal.js';
import { ErrorCode } from '../../src/protocol/index.js';
import {
  args,
  callMeta,
  errorOf,
  failure,
  frozenClock,
  MemoryInvoker,
  registration,
  result,
  subjects,
} from '../support/memory-site.js';

const NOW = frozenClock();
const CALLER = '_INBOX.caller.1';

function brokerAt(site = 'a') {
  const registry = new Registry({ site });
  const invoker = new MemoryInvoker();
  const forwarder = new Forwarder(registry, invoker, new LoadBalancer('round-robin'), subjects);
  return { registry, invoker, forwarder };
}

const ACK = { ok: true as const, body: new Uint8Array(0) };

describe('forwarder', () => {
  test('forwarder - the budget forwarded is the budget received minus the time the broker held the call', async () => {
    const { registry, invoker, forwarder } = brokerAt('a');
    registry.register(registration('i1', 'calc'));
    invoker.on('i1', () => ACK);
    const receivedAt = NOW - 30;
    const reply = await forwarder.forward(
      callMeta('calc', { budgetMs: 1000 }),
      args(),
      CALLER,
      receivedAt,
    );
    expect(reply).toBe(ACK);
    expect(invoker.sent).toHaveLength(1);
    expect(invoker.sent).toMatchObject([
      {
        subject: 'sb.instance.calc.i1',
        meta: expect.objectContaining({ budgetMs: 970, path: ['a'] }),
        timeoutMs: 970,
        replyTo: CALLER,
      },
    ]);
  });

  test('forwarder - a call pinned to a site goes to the route to that site', async () => {
    const { registry, invoker, forwarder } = brokerAt('a');
    registry.register(registration('local', 'where'));
    registry.register(registration('toB', 'where', { route: { site: 'b', path: ['b'] } }));
    invoker.on('local', () => ACK);
    invoker.on('toB', () => ACK);
    for (let i = 0; i < 3; i++) {
      await forwarder.forward(callMeta('where', { budgetMs: 500, site: 'b' }), args(), CALLER, NOW);
    }
    expect(invoker.sent.map((s) => s.to)).toEqual(['toB', 'toB', 'toB']);
    expect(invoker.sent[0]?.meta.site).toBe('b');
  });

  test('forwarder - a call pinned to a site with no instance there is SERVICE_NOT_FOUND at that site', async () => {
    const { registry, invoker, forwarder } = brokerAt('a');
    registry.register(registration('local', 'where'));
    const reply = await forwarder.forward(
      callMeta('where', { budgetMs: 500, site: 'b' }),
      args(),
      CALLER,
      NOW,
    );
    expect(errorOf(reply)).toMatchObject({
      code: ErrorCode.SERVICE_NOT_FOUND,
      completed: 'no',
      site: 'a',
      message: "service 'where' at site 'b' is not registered",
    });
    expect(invoker.sent).toHaveLength(0);
  });

  test('forwarder - a service with no instance left is UNAVAILABLE naming where it was; a pinned call, at that site', async () => {
    const { registry, invoker, forwarder } = brokerAt('a');
    registry.register(registration('toB', 'calc', { route: { site: 'b', path: ['b'] } }));
    registry.register(registration('local', 'calc'));
    registry.deregister('toB');
    const pinned = await forwarder.forward(
      callMeta('calc', { budgetMs: 500, site: 'b' }),
      args(),
      CALLER,
      NOW,
    );
    expect(errorOf(pinned)).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
      message: "no live instance of 'calc' at site 'b' (it was there recently)",
    });
    registry.deregister('local');
    const any = await forwarder.forward(callMeta('calc', { budgetMs: 500 }), args(), CALLER, NOW);
    expect(errorOf(any)).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      site: 'a',
      message: "no live instance of 'calc' (the last one was at site 'a')",
    });
    expect(invoker.sent).toHaveLength(0);
  });

  test('forwarder - a mistyped service is SERVICE_NOT_FOUND with the registered name it is nearest to', async () => {
    const { registry, forwarder } = brokerAt('a');
    registry.register(registration('i1', 'calculator'));
    const reply = await forwarder.forward(
      callMeta('calculater', { budgetMs: 500 }),
      args(),
      CALLER,
      NOW,
    );
    const error = errorOf(reply);
    expect(error).toMatchObject({
      code: ErrorCode.SERVICE_NOT_FOUND,
      message: "service 'calculater' is not registered (did you mean 'calculator'?)",
    });
    expect(error.details).toEqual({ didYouMean: 'calculator' });
  });

  test('forwarder - an instance that stopped heartbeating has its calls abandoned; one whose connection moved is probed', () => {
    const { invoker, forwarder } = brokerAt('a');
    const registry = new Registry({ site: 'a' });
    registry.register(registration('i1', 'calc'));
    registry.register(registration('toB', 'calc', { route: { site: 'b', path: ['b'] } }));
    forwarder.abandon(registry.get('i1')!);
    forwarder.probe(registry.get('toB')!);
    expect(invoker.abandoned).toEqual(['sb.instance.calc.i1']);
    expect(invoker.probed).toEqual([
      {
        subject: 'sb.route.calc.toB',
        reason: 'instance toB lost the call when its connection to NATS moved',
      },
    ]);
  });

  test('forwarder - completion passes through unchanged: maybe stays maybe', async () => {
    const { registry, invoker, forwarder } = brokerAt();
    registry.register(registration('i1', 'calc'));
    registry.register(registration('i2', 'calc'));
    invoker.on('i1', () => failure(ErrorCode.UNAVAILABLE, 'maybe', 'closed mid-call'));
    invoker.on('i2', () => failure(ErrorCode.UNAVAILABLE, 'maybe', 'closed mid-call'));
    const reply = await forwarder.forward(callMeta('calc', { budgetMs: 500 }), args(), CALLER, NOW);
    expect(errorOf(reply)).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'maybe' });
    expect(invoker.sent).toHaveLength(1);
  });

  test('forwarder - an instance gone is skipped for the next one', async () => {
    const { registry, invoker, forwarder } = brokerAt();
    registry.register(registration('gone', 'calc'));
    registry.register(registration('live', 'calc'));
    invoker.on('live', () => ACK);
    for (let i = 0; i < 2; i++) {
      const reply = await forwarder.forward(
        callMeta('calc', { budgetMs: 500 }),
        args(),
        CALLER,
        NOW,
      );
      expect(reply).toBe(ACK);
    }
    expect(invoker.sent.map((s) => s.to)).toContain('gone');
    expect(invoker.sent.at(-1)?.to).toBe('live');
  });

  test('forwarder - a budget of 0 is TIMEOUT with completion no, and nothing is sent', async () => {
    const { registry, invoker, forwarder } = brokerAt();
    registry.register(registration('i1', 'calc'));
    invoker.on('i1', () => ACK);
    const reply = await forwarder.forward(callMeta('calc', { budgetMs: 0 }), args(), CALLER, NOW);
    expect(errorOf(reply)).toMatchObject({ code: ErrorCode.TIMEOUT, completed: 'no' });
    expect(invoker.sent).toHaveLength(0);
  });

  test('forwarder - an instance that answers the broker instead of the caller has its answer passed on', async () => {
    const { registry, invoker, forwarder } = brokerAt();
    registry.register(registration('i1', 'calc'));
    const answer = result(42);
    invoker.on('i1', () => answer);
    expect(await forwarder.forward(callMeta('calc', { budgetMs: 500 }), args(), CALLER, NOW)).toBe(
      answer,
    );
  });

  test('forwarder - a cancel notice goes to the instance holding the call, and is dropped after', async () => {
    const { registry, invoker, forwarder } = brokerAt();
    registry.register(registration('i1', 'calc'));
    let finish: (() => void) | undefined;
    invoker.on('i1', () => new Promise((resolve) => (finish = () => resolve(ACK))));
    const meta = callMeta('calc', { callId: 'k1', budgetMs: 500 });
    const pending = forwarder.forward(meta, args(), CALLER, NOW);
    await vi.waitFor(() => expect(finish).toBeDefined());
    forwarder.cancel(callMeta('calc', { callId: 'k1' }));
    forwarder.cancel(callMeta('calc', { callId: 'other' }));
    expect(invoker.cancels).toEqual([{ subject: 'sb.instance.calc.i1', callId: 'k1' }]);
    finish?.();
    await pending;
    forwarder.cancel(callMeta('calc', { callId: 'k1' }));
    expect(invoker.cancels).toHaveLength(1);
  });
});
