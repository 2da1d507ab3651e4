/**
 * A bridge relay over the in-memory seams: what it refuses, and what the
 * call it carries to the far side looks like.
 */
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, test, vi } from 'vitest';
import { InFlightLimit } from '../../src/core/index.js';
import { Relay, type RelayDirection, type RouteAdvert } from '../../src/internal.js';
import { type CallMeta, ErrorCode } from '../../src/protocol/index.js';
import {
  args,
  callMeta,
  errorOf,
  errorReply,
  frozenClock,
  MemoryBrokerClient,
  MemoryInvoker,
  memoryDispatcher,
  result,
  resultOf,
  seed,
} from '../support/memory-site.js';

const NOW = frozenClock();

/** A relay from site a (near) to site b (far), with `calc` hosted at c behind b. */
function relayAB(fields: Partial<RelayDirection> = {}, inFlight?: InFlightLimit) {
  const far = new MemoryBrokerClient('b');
  const invoker = new MemoryInvoker();
  seed(far, 'toC', 'calc', { route: { site: 'c', path: ['c'] } });
  invoker.on('toC', () => result('from c'));
  const relay = new Relay(
    {
      nearSite: 'a',
      farSite: 'b',
      allows: () => true,
      maxHops: 3,
      farReachable: () => true,
      far: memoryDispatcher(far, invoker).dispatcher,
      ...fields,
    },
    inFlight,
  );
  return { relay, invoker, far };
}

const ROUTE: RouteAdvert = {
  key: 'calc|1.0.0|c|b,c',
  service: 'calc',
  version: '1.0.0',
  methods: ['m'],
  site: 'c',
  path: ['b', 'c'],
};

function incoming(fields: Partial<CallMeta> = {}): CallMeta {
  return callMeta('calc', { budgetMs: 1000, path: ['a'], site: 'c', ...fields });
}

describe('relay', () => {
  test('relay - the call leaves with the far site on its path and its budget shrunk by the time held', async () => {
    const { relay, invoker } = relayAB();
    const reply = await relay.relay(ROUTE, incoming(), args(1), NOW - 25);
    expect(resultOf(reply)).toBe('from c');
    expect(invoker.sent).toHaveLength(1);
    expect(invoker.sent[0]?.meta).toMatchObject({ path: ['a', 'b'], site: 'c', budgetMs: 975 });
    expect(invoker.sent[0]?.timeoutMs).toBe(975);
  });

  test('relay - a call without a target site heads for the route site', async () => {
    const { relay, invoker } = relayAB();
    await relay.relay(ROUTE, incoming({ site: undefined }), args(), NOW);
    expect(invoker.sent[0]?.meta.site).toBe('c');
  });

  test('relay - the incoming metadata is left as it came', async () => {
    const { relay } = relayAB();
    const meta = incoming();
    await relay.relay(ROUTE, meta, args(), NOW);
    expect(meta).toMatchObject({ path: ['a'], budgetMs: 1000, site: 'c' });
  });

  test("relay - a call for another service than the route's is SERVICE_NOT_FOUND at the near site, and nothing crosses", async () => {
    const { relay, invoker } = relayAB();
    const err = errorOf(await relay.relay(ROUTE, callMeta('other', { path: ['a'] }), args(), NOW));
    expect(err).toMatchObject({ code: ErrorCode.SERVICE_NOT_FOUND, completed: 'no', site: 'a' });
    expect(err.message).toBe("this route carries 'calc', not 'other'");
    expect(invoker.sent).toHaveLength(0);
  });

  test('relay - a service the link does not let through is FORBIDDEN, and nothing crosses', async () => {
    const { relay, invoker } = relayAB({ allows: (s) => s !== 'calc' });
    const err = errorOf(await relay.relay(ROUTE, incoming(), args(), NOW));
    expect(err).toMatchObject({ code: ErrorCode.FORBIDDEN, completed: 'no', site: 'a' });
    expect(err.message).toBe("the bridge from site 'b' to site 'a' does not let 'calc' through");
    expect(invoker.sent).toHaveLength(0);
  });

  test('relay - a call that would cross the far site again is refused', async () => {
    const { relay, invoker } = relayAB();
    const err = errorOf(await relay.relay(ROUTE, incoming({ path: ['b', 'a'] }), args(), NOW));
    expect(err).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'no' });
    expect(err.message).toMatch(/would cross site 'b' twice/);
    expect(invoker.sent).toHaveLength(0);
  });

  test('relay - the hop limit lets a path of maxHops sites through and refuses one more', async () => {
    const { relay, invoker } = relayAB({ maxHops: 3 });
    expect((await relay.relay(ROUTE, incoming({ path: ['x', 'y', 'a'] }), args(), NOW)).ok).toBe(
      true,
    );
    const err = errorOf(
      await relay.relay(ROUTE, incoming({ path: ['w', 'x', 'y', 'a'] }), args(), NOW),
    );
    expect(err.message).toMatch(/exceeds the hop limit of 3/);
    expect(invoker.sent).toHaveLength(1);
  });

  test('relay - a link that is down fails fast with UNAVAILABLE, completion no', async () => {
    const { relay, invoker } = relayAB({ farReachable: () => false });
    const err = errorOf(await relay.relay(ROUTE, incoming(), args(), NOW));
    expect(err).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'no', site: 'a' });
    expect(err.message).toMatch(/link from site 'a' to site 'b' is down/);
    expect(invoker.sent).toHaveLength(0);
  });

  test('relay - a budget spent before the relay is TIMEOUT with completion no, refused at the bridge', async () => {
    const { relay, invoker } = relayAB();
    const err = errorOf(await relay.relay(ROUTE, incoming({ budgetMs: 10 }), args(), NOW - 10));
    expect(err).toMatchObject({ code: ErrorCode.TIMEOUT, completed: 'no', site: 'a' });
    expect(err.message).toBe("'calc': deadline passed at the bridge");
    expect(invoker.sent).toHaveLength(0);
  });

  test('relay - a call with a target site other than the route site heads for its own target', async () => {
    const { relay, invoker, far } = relayAB();
    seed(far, 'toD', 'calc', { route: { site: 'd', path: ['d'] } });
    invoker.on('toD', () => result('from d'));
    expect(resultOf(await relay.relay(ROUTE, incoming({ site: 'd' }), args(), NOW))).toBe('from d');
    expect(invoker.sent.map((s) => [s.to, s.meta.site])).toEqual([['toD', 'd']]);
  });

  test('relay - a failure that may have run is not retried elsewhere: relayed calls are not idempotent', async () => {
    const { relay, invoker, far } = relayAB();
    seed(far, 'toC2', 'calc', { route: { site: 'c', path: ['c'] } });
    const maybe = errorReply(ErrorCode.UNAVAILABLE, 'maybe', 'cut');
    invoker.on('toC', () => maybe);
    invoker.on('toC2', () => maybe);
    expect(await relay.relay(ROUTE, incoming(), args(), NOW)).toBe(maybe);
    expect(invoker.sent).toHaveLength(1);
  });

  test('relay - SERVICE_NOT_FOUND answered by the far end (with a body) is passed on as it came', async () => {
    const { relay, invoker } = relayAB();
    const notFound = errorReply(ErrorCode.SERVICE_NOT_FOUND, 'no', 'gone at c');
    invoker.on('toC', () => notFound);
    expect(await relay.relay(ROUTE, incoming(), args(), NOW)).toBe(notFound);
  });

  test('relay - names its direction and its link, the link the same both ways', () => {
    const ab = relayAB().relay;
    const ba = relayAB({ nearSite: 'b', farSite: 'a' }).relay;
    expect(ab.direction).toBe('a→b');
    expect(ba.direction).toBe('b→a');
    expect(ab.link).toBe('a-b');
    expect(ba.link).toBe('a-b');
  });

  test('relay - held() names the calls it is carrying now', async () => {
    const { relay, invoker } = relayAB();
    let finish!: () => void;
    invoker.on('toC', () => new Promise((resolve) => (finish = () => resolve(result(1)))));
    const pending = relay.relay(ROUTE, incoming({ callId: 'k1' }), args(), NOW);
    await vi.waitFor(() => expect(finish).toBeDefined());
    expect(relay.held(['k0', 'k1', 'k2'])).toEqual(['k1']);
    finish();
    await pending;
    expect(relay.held(['k1'])).toEqual([]);
  });

  test('relay - past the in-flight limit it shares with the other direction a call is refused UNAVAILABLE, completion no, and nothing crosses', async () => {
    const limit = new InFlightLimit({ maxCalls: 1 });
    const ab = relayAB({}, limit);
    const ba = relayAB({ nearSite: 'b', farSite: 'a' }, limit);
    let finish!: () => void;
    ab.invoker.on('toC', () => new Promise((resolve) => (finish = () => resolve(result(1)))));
    const pending = ab.relay.relay(ROUTE, incoming({ callId: 'k1' }), args(), NOW);
    await vi.waitFor(() => expect(finish).toBeDefined());
    const refused = errorOf(await ba.relay.relay(ROUTE, incoming({ path: ['b'] }), args(), NOW));
    expect(refused).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
      site: 'b',
      path: ['b'],
      message: "'calc': bridge busy: its limit of 1 call in flight is reached",
    });
    expect(ba.invoker.sent).toHaveLength(0);
    finish();
    await pending;
    expect(limit.calls).toBe(0);
    expect(resultOf(await ba.relay.relay(ROUTE, incoming({ path: ['b'] }), args(), NOW))).toBe(
      'from c',
    );
  });

  test('relay - calls from one origin site hold at most its share of the room; another site still gets through', async () => {
    const limit = new InFlightLimit({ maxCalls: 4 });
    const { relay, invoker } = relayAB({}, limit);
    const finishes: Array<() => void> = [];
    invoker.on('toC', () => new Promise((resolve) => finishes.push(() => resolve(result(1)))));
    const fromA = [1, 2].map((n) =>
      relay.relay(ROUTE, incoming({ callId: `a${n}`, path: ['a'] }), args(), NOW),
    );
    await vi.waitFor(() => expect(finishes).toHaveLength(2));
    expect(errorOf(await relay.relay(ROUTE, incoming({ path: ['a'] }), args(), NOW))).toMatchObject(
      {
        code: ErrorCode.UNAVAILABLE,
        completed: 'no',
        message: "'calc': bridge busy: its limit per caller of 2 calls in flight is reached",
      },
    );
    const fromX = relay.relay(ROUTE, incoming({ callId: 'x1', path: ['x', 'a'] }), args(), NOW);
    await vi.waitFor(() => expect(finishes).toHaveLength(3));
    for (const finish of finishes) finish();
    await Promise.all([...fromA, fromX]);
    expect({ calls: limit.calls, callers: limit.callers }).toEqual({ calls: 0, callers: 0 });
  });

  test('relay - a call that fails, or is refused before it is sent, leaves no room taken', async () => {
    const limit = new InFlightLimit({ maxCalls: 1, maxBytes: 10 });
    const { relay, invoker } = relayAB({ allows: (service) => service === 'calc' }, limit);
    invoker.on('toC', () => errorReply(ErrorCode.APPLICATION, 'yes', 'boom'));
    expect(errorOf(await relay.relay(ROUTE, incoming(), args(1, 2, 3), NOW)).code).toBe(
      ErrorCode.APPLICATION,
    );
    const other = { ...ROUTE, service: 'other' };
    expect(
      errorOf(await relay.relay(other, incoming({ service: 'other' }), args(), NOW)).code,
    ).toBe(ErrorCode.FORBIDDEN);
    expect(errorOf(await relay.relay(ROUTE, incoming({ budgetMs: 0 }), args(), NOW)).code).toBe(
      ErrorCode.TIMEOUT,
    );
    expect({ calls: limit.calls, bytes: limit.bytes }).toEqual({ calls: 0, bytes: 0 });
  });

  test('relay - a far side that throws, at once or later, rejects the call and leaves no room taken', async () => {
    const limit = new InFlightLimit({ maxCalls: 1, maxBytes: 10 });
    for (const broken of [
      () => {
        throw new Error('dispatch broke');
      },
      () => Promise.reject(new Error('dispatch broke')),
    ]) {
      const { relay } = relayAB(
        { far: { dispatch: broken, cancel: () => false } as unknown as RelayDirection['far'] },
        limit,
      );
      await expect(relay.relay(ROUTE, incoming(), args(1), NOW)).rejects.toThrow('dispatch broke');
      expect({ calls: limit.calls, bytes: limit.bytes }).toEqual({ calls: 0, bytes: 0 });
    }
  });

  test('relay - a stale route (no such service at the far side) is UNAVAILABLE, so another path may be tried', async () => {
    const { relay, far } = relayAB();
    // Never there: the far side says SERVICE_NOT_FOUND, which the relay turns into UNAVAILABLE.
    far.registry.deregister('toC');
    far.registry.expire();
    const never = errorOf(
      await relay.relay({ ...ROUTE, site: 'd' }, incoming({ site: 'd' }), args(), NOW),
    );
    expect(never).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'no', site: 'b' });
    expect(never.message).toBe("no route to 'calc' at site 'd' from site 'b'");
    // There recently: the far side already says UNAVAILABLE, passed on as it is.
    const recent = errorOf(await relay.relay(ROUTE, incoming(), args(), NOW));
    expect(recent).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'no', site: 'b' });
    expect(recent.message).toMatch(/at site 'c' \(it was there recently\)/);
  });

  test('relay - a cancel notice follows a call it carries to the far side, and nothing else', async () => {
    const { relay, invoker } = relayAB();
    let finish!: () => void;
    invoker.on('toC', () => new Promise((resolve) => (finish = () => resolve(result(1)))));
    const meta = incoming({ callId: 'k7' });
    const pending = relay.relay(ROUTE, meta, args(), NOW);
    await vi.waitFor(() => expect(finish).toBeDefined());
    expect(relay.cancel(callMeta('calc', { callId: 'other' }))).toBe(false);
    expect(relay.cancel(callMeta('calc', { callId: 'k7' }))).toBe(true);
    expect(invoker.cancels).toEqual([{ subject: 'sb.route.calc.toC', callId: 'k7' }]);
    finish();
    await pending;
    expect(relay.cancel(callMeta('calc', { callId: 'k7' }))).toBe(false);
  });

  test('relay - an error reply from the far side comes back untouched', async () => {
    const { relay, invoker } = relayAB();
    const thrown = errorReply(ErrorCode.APPLICATION, 'yes', 'boom');
    invoker.on('toC', () => thrown);
    expect(await relay.relay(ROUTE, incoming(), args(), NOW)).toBe(thrown);
  });

  test('relay - with a tracer registered, the call carries on the trace of a relay span naming the link and target site', async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    try {
      const { relay, invoker } = relayAB();
      const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const meta = incoming({ traceparent: parent, tracestate: 'sb=1' });
      expect(resultOf(await relay.relay(ROUTE, meta, args(), NOW))).toBe('from c');
      const [span, ...more] = exporter.getFinishedSpans();
      expect(more).toEqual([]);
      expect(span?.name).toBe('relay a→b');
      expect(span?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
      expect(span?.attributes).toMatchObject({
        'switchboard.link': 'a-b',
        'switchboard.target_site': 'c',
        'switchboard.code': 'OK',
      });
      const { traceId, spanId } = span!.spanContext();
      expect(traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(invoker.sent[0]?.meta).toMatchObject({
        traceparent: `00-${traceId}-${spanId}-01`,
        tracestate: 'sb=1',
      });
      expect(meta.traceparent).toBe(parent);
    } finally {
      trace.disable();
    }
  });
});
