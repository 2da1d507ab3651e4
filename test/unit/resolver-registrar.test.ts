/**
 * The resolver cache and the registrar over the in-memory BrokerClient.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { MAX_CACHED_RESOLUTIONS, Registrar, Resolver } from '../../src/core/index.js';
import {
  ErrorCode,
  type InstanceRegistration,
  REFUSED_BY_NATS,
  SwitchboardError,
} from '../../src/protocol/index.js';
import { silentLogger } from '../../src/util/index.js';
import { MemoryBrokerClient, registration, renewedIn, seed } from '../support/memory-site.js';
import { RecordingLogger } from '../support/memory-wire.js';

const ids = (views: Iterable<{ id: string }>) => [...views].map((v) => v.id).sort();

afterEach(() => {
  vi.useRealTimers();
});

/** Makes `brokers` refuse every registration of `id` with the error `failure` gives then. */
function refuseRegistration(brokers: MemoryBrokerClient, id: string, failure: () => Error) {
  const register = brokers.register.bind(brokers);
  brokers.register = (instance) =>
    instance.id === id ? Promise.reject(failure()) : register(instance);
}

function resolverAt(site = 'a', ttlMs = 30_000) {
  const brokers = new MemoryBrokerClient(site);
  const resolver = new Resolver(brokers, { ttlMs, lookupTimeoutMs: 2000 });
  const lookups = () => brokers.requests.filter((r) => r.kind === 'lookup').length;
  return { brokers, resolver, lookups };
}

describe('resolver', () => {
  test('resolver - concurrent callers share one lookup, later ones use the cache', async () => {
    const { brokers, resolver, lookups } = resolverAt();
    seed(brokers, 'i1', 'calc');
    const [r1, r2] = await Promise.all([
      resolver.resolve('calc', undefined, 1000),
      resolver.resolve('calc', undefined, 1000),
    ]);
    expect(r1.instances.map((i) => i.id)).toEqual(['i1']);
    expect(r2).toBe(r1);
    await resolver.resolve('calc', undefined, 1000);
    expect(lookups()).toBe(1);
    expect(resolver.site).toBe('a');
  });

  test('resolver - keeps at most MAX_CACHED_RESOLUTIONS answers, dropping the oldest (callers choose the ranges)', async () => {
    const { brokers, resolver } = resolverAt();
    seed(brokers, 'i1', 'calc');
    const range = (i: number) => `>=0.0.${i}`;
    for (let i = 0; i <= MAX_CACHED_RESOLUTIONS; i++)
      await resolver.resolve('calc', range(i), 1000);
    expect(resolver.cached('calc', range(0))).toBeUndefined();
    expect(resolver.cached('calc', range(1))?.instances.map((v) => v.id)).toEqual(['i1']);
    expect(resolver.cached('calc', range(MAX_CACHED_RESOLUTIONS))).toBeDefined();
  });

  test('resolver - a registry event about the service drops its cached answers', async () => {
    const { brokers, resolver, lookups } = resolverAt();
    await resolver.resolve('calc', undefined, 1000);
    await resolver.resolve('calc', '^1.0.0', 1000);
    await brokers.register(registration('i1', 'calc'));
    expect(resolver.cached('calc', undefined)).toBeUndefined();
    expect(resolver.cached('calc', '^1.0.0')).toBeUndefined();
    const again = await resolver.resolve('calc', undefined, 1000);
    expect(again.instances.map((i) => i.id)).toEqual(['i1']);
    expect(lookups()).toBe(3);
  });

  test('resolver - an answer that an event made stale during the lookup is not cached', async () => {
    const { brokers, resolver } = resolverAt();
    const pending = resolver.resolve('calc', undefined, 1000);
    await brokers.register(registration('i1', 'calc'));
    await pending;
    expect(resolver.cached('calc', undefined)).toBeUndefined();
  });

  test('resolver - answers older than the TTL are asked again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { brokers, resolver, lookups } = resolverAt('a', 500);
    seed(brokers, 'i1', 'calc');
    await resolver.resolve('calc', undefined, 1000);
    vi.advanceTimersByTime(500);
    expect(resolver.cached('calc', undefined)).toBeDefined();
    vi.advanceTimersByTime(1);
    expect(resolver.cached('calc', undefined)).toBeUndefined();
    await resolver.resolve('calc', undefined, 1000);
    expect(lookups()).toBe(2);
  });

  test('resolver - an answer with no instance is asked again after a short time', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { resolver, lookups } = resolverAt('a', 30_000);
    await resolver.resolve('calc', undefined, 1000);
    vi.advanceTimersByTime(250);
    expect(resolver.cached('calc', undefined)).toBeDefined();
    vi.advanceTimersByTime(1);
    expect(resolver.cached('calc', undefined)).toBeUndefined();
    await resolver.resolve('calc', undefined, 1000);
    expect(lookups()).toBe(2);
  });

  test('resolver - a reconnection makes every answer stale: asked again, kept in case no broker answers', async () => {
    const { brokers, resolver, lookups } = resolverAt();
    seed(brokers, 'i1', 'calc');
    await resolver.resolve('calc', undefined, 1000);
    brokers.linkState('down');
    expect(resolver.cached('calc', undefined)).toBeDefined();
    brokers.linkState('up');
    expect(resolver.cached('calc', undefined)).toBeUndefined();
    brokers.available = false;
    const fallback = await resolver.resolve('calc', undefined, 1000);
    expect(fallback.instances.map((i) => i.id)).toEqual(['i1']);
    expect(
      resolver.cached('calc', undefined),
      'still stale: asked again next time',
    ).toBeUndefined();
    brokers.available = true;
    seed(brokers, 'i2', 'calc');
    const fresh = await resolver.resolve('calc', undefined, 1000);
    expect(fresh.instances.map((i) => i.id).sort()).toEqual(['i1', 'i2']);
    expect(resolver.cached('calc', undefined), 'fresh again').toBeDefined();
    expect(lookups()).toBe(3);
  });

  test('resolver - an answer past its TTL stands in while no broker answers, up to staleIfErrorMs', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const brokers = new MemoryBrokerClient('a');
    const resolver = new Resolver(brokers, {
      ttlMs: 500,
      lookupTimeoutMs: 2000,
      staleIfErrorMs: 5000,
    });
    seed(brokers, 'i1', 'calc');
    await resolver.resolve('calc', undefined, 1000);
    vi.advanceTimersByTime(501);
    brokers.available = false;
    expect((await resolver.resolve('calc', undefined, 1000)).instances).toHaveLength(1);
    // 5000 ms after it was fetched it still stands in; a millisecond later it no longer does.
    vi.advanceTimersByTime(4499);
    expect((await resolver.resolve('calc', undefined, 1000)).instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    await expect(resolver.resolve('calc', undefined, 1000)).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
    });
  });

  test('resolver - no fallback for an answer with no instance, nor for a broker that refused', async () => {
    const { brokers, resolver } = resolverAt();
    await resolver.resolve('echo', undefined, 1000);
    brokers.linkState('up');
    brokers.available = false;
    await expect(resolver.resolve('echo', undefined, 1000)).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
    });
    brokers.available = true;
    seed(brokers, 'i1', 'calc');
    await resolver.resolve('calc', undefined, 1000);
    brokers.linkState('up');
    const refused = new SwitchboardError(ErrorCode.FORBIDDEN, 'not for you', { completed: 'no' });
    vi.spyOn(brokers, 'lookup').mockRejectedValueOnce(refused);
    await expect(resolver.resolve('calc', undefined, 1000)).rejects.toBe(refused);
  });

  test('resolver - forgetting the last instance keeps the service known, with the site it was at', async () => {
    const { brokers, resolver } = resolverAt('a');
    seed(brokers, 'toC', 'calc', { route: { site: 'c', path: ['b', 'c'] } });
    await resolver.resolve('calc', undefined, 1000);
    resolver.forget('calc', 'toC');
    expect(resolver.cached('calc', undefined)).toMatchObject({ instances: [], departedFrom: 'c' });
  });

  test('resolver - forgetting an instance keeps the others, and names a site left only when none is left there', async () => {
    const { brokers, resolver } = resolverAt('a');
    seed(brokers, 'c1', 'calc', { route: { site: 'c', path: ['b', 'c'] } });
    seed(brokers, 'c2', 'calc', { route: { site: 'c', path: ['b', 'c'] } });
    seed(brokers, 'd1', 'calc', { route: { site: 'd', path: ['b', 'd'] } });
    await resolver.resolve('calc', undefined, 1000);
    resolver.forget('calc', 'c1');
    let cached = resolver.cached('calc', undefined)!;
    expect(cached.instances.map((i) => i.id)).toEqual(['c2', 'd1']);
    expect(cached.departedFrom).toBeUndefined();
    expect(cached.departedSites ?? []).toEqual([]);
    resolver.forget('calc', 'c2');
    resolver.forget('calc', 'unknown');
    resolver.forget('echo', 'd1');
    cached = resolver.cached('calc', undefined)!;
    expect(cached.instances.map((i) => i.id)).toEqual(['d1']);
    expect(cached.departedFrom).toBeUndefined();
    expect(cached.departedSites).toEqual(['c']);
    resolver.forget('calc', 'd1');
    expect(resolver.cached('calc', undefined)).toMatchObject({
      instances: [],
      departedFrom: 'd',
      departedSites: ['c', 'd'],
    });
  });

  test('resolver - answers are cached per version range, and an event drops every range of the service', async () => {
    const { brokers, resolver, lookups } = resolverAt('a');
    seed(brokers, 'v1', 'calc', { version: '1.2.0' });
    seed(brokers, 'v2', 'calc', { version: '2.0.0' });
    seed(brokers, 'e1', 'echo');
    const one = await resolver.resolve('calc', '^1.0.0', 1000);
    const two = await resolver.resolve('calc', '^2.0.0', 1000);
    await resolver.resolve('echo', undefined, 1000);
    expect(one.instances.map((i) => i.id)).toEqual(['v1']);
    expect(two.instances.map((i) => i.id)).toEqual(['v2']);
    expect(lookups()).toBe(3);
    expect(resolver.cached('calc', '^1.0.0')?.instances.map((i) => i.id)).toEqual(['v1']);
    expect(resolver.cached('calc', undefined)).toBeUndefined();
    resolver.invalidate('calc');
    expect(resolver.cached('calc', '^1.0.0')).toBeUndefined();
    expect(resolver.cached('calc', '^2.0.0')).toBeUndefined();
    expect(resolver.cached('echo', undefined)).toBeDefined();
  });

  test('resolver - an instance whose connection moved does not drop the cache', async () => {
    const { brokers, resolver } = resolverAt('a');
    const instance = registration('i1', 'calc');
    await brokers.register(instance);
    await resolver.resolve('calc', undefined, 1000);
    brokers.heartbeat(instance, true);
    expect(brokers.resumedBeats).toEqual(['i1']);
    expect(resolver.cached('calc', undefined)).toBeDefined();
  });

  test('resolver - a caller whose budget ends first fails alone with TIMEOUT; the shared lookup goes on', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    class SlowBrokers extends MemoryBrokerClient {
      override async lookup(service: string, range: string | undefined) {
        await gate;
        return super.lookup(service, range);
      }
    }
    const brokers = new SlowBrokers('a');
    seed(brokers, 'i1', 'calc');
    const resolver = new Resolver(brokers, { ttlMs: 30_000, lookupTimeoutMs: 2000 });
    const hurried = resolver.resolve('calc', undefined, 10);
    const patient = resolver.resolve('calc', undefined, 5000);
    const hurriedOutcome = hurried.catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(10);
    expect(await hurriedOutcome).toMatchObject({
      code: ErrorCode.TIMEOUT,
      completed: 'no',
      message: expect.stringMatching(/deadline passed while locating 'calc'/),
    });
    release();
    expect((await patient).instances.map((i) => i.id)).toEqual(['i1']);
    expect(brokers.requests.filter((r) => r.kind === 'lookup')).toHaveLength(1);
  });

  test('resolver - close() stops listening and drops the cache', async () => {
    const { brokers, resolver } = resolverAt();
    seed(brokers, 'i1', 'calc');
    await resolver.resolve('calc', undefined, 1000);
    expect(brokers.listenerCounts()).toMatchObject({ instance: 1, link: 1 });
    resolver.close();
    expect(brokers.listenerCounts()).toMatchObject({ instance: 0, link: 0 });
    expect(resolver.cached('calc', undefined)).toBeUndefined();
  });

  test('resolver - a caller whose budget is already spent hears so, with 0 ms left', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const brokers = new MemoryBrokerClient('a');
    brokers.lookup = () => new Promise(() => {});
    const resolver = new Resolver(brokers, { ttlMs: 30_000, lookupTimeoutMs: 2000 });
    const outcome = resolver.resolve('calc', undefined, -5).catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(0);
    expect(await outcome).toMatchObject({
      code: ErrorCode.TIMEOUT,
      completed: 'no',
      message: "deadline passed while locating 'calc' (0 ms left)",
    });
  });

  test('resolver - a lookup that ends within the caller budget leaves no timer behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { brokers, resolver } = resolverAt();
    seed(brokers, 'i1', 'calc');
    await resolver.resolve('calc', undefined, 100);
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('resolver - a lookup that may have reached a broker is no reason to fall back on an old answer', async () => {
    const { brokers, resolver } = resolverAt();
    seed(brokers, 'i1', 'calc');
    await resolver.resolve('calc', undefined, 1000);
    brokers.linkState('up');
    const lost = new SwitchboardError(ErrorCode.UNAVAILABLE, 'lost', { completed: 'maybe' });
    vi.spyOn(brokers, 'lookup').mockRejectedValueOnce(lost);
    await expect(resolver.resolve('calc', undefined, 1000)).rejects.toBe(lost);
  });
});

describe('registrar', () => {
  function registrarAt(heartbeatMs = 100) {
    const brokers = new MemoryBrokerClient('a');
    const registrar = new Registrar(brokers, silentLogger, heartbeatMs);
    const registrations = () => brokers.requests.filter((r) => r.kind === 'register').length;
    return { brokers, registrar, registrations };
  }

  test('registrar - whenRegistered: true once confirmed, at once after; false for an unknown id', async () => {
    const { registrar } = registrarAt();
    expect(await registrar.whenRegistered('nobody')).toBe(false);
    expect(registrar.isRegistered('nobody')).toBe(false);
    const waiting = registrar.whenRegistered('i1');
    void registrar.add(registration('i1', 'calc'));
    const confirmed = registrar.whenRegistered('i1');
    expect(await waiting).toBe(false);
    expect(await confirmed).toBe(true);
    expect(registrar.isRegistered('i1')).toBe(true);
    expect(await registrar.whenRegistered('i1')).toBe(true);
    registrar.close();
  });

  test('registrar - a broker refusing keeps the refusal; a failure to reach one is no refusal', async () => {
    const { brokers, registrar } = registrarAt();
    const refusal = new SwitchboardError(ErrorCode.FORBIDDEN, 'held by another', {
      completed: 'no',
      site: 'a',
    });
    const register = brokers.register.bind(brokers);
    brokers.register = () => Promise.reject(refusal);
    expect(await registrar.add(registration('i1', 'calc'))).toBe(false);
    expect(registrar.refusal('i1')).toBe(refusal);
    brokers.register = register;
    brokers.available = false;
    expect(await registrar.add(registration('i2', 'calc'))).toBe(false);
    expect(registrar.refusal('i2')).toBeUndefined();
    expect(registrar.refusal('nobody')).toBeUndefined();
    brokers.available = true;
    expect(await registrar.add(registration('i1', 'calc'))).toBe(true);
    expect(registrar.refusal('i1')).toBeUndefined();
    registrar.close();
  });

  test('registrar - a refusal is any error a broker sends (it names its site), or FORBIDDEN from NATS itself', async () => {
    const { brokers, registrar } = registrarAt();
    const full = new SwitchboardError(ErrorCode.UNAVAILABLE, 'full', {
      completed: 'no',
      site: 'a',
    });
    const denied = new SwitchboardError(ErrorCode.FORBIDDEN, 'permissions violation', {
      completed: 'no',
      cause: REFUSED_BY_NATS,
    });
    // What a reply forged by something other than a broker reads as: no site, not NATS's.
    const forged = new SwitchboardError(ErrorCode.FORBIDDEN, 'permissions violation', {
      completed: 'no',
    });
    brokers.register = () => Promise.reject(full);
    expect(await registrar.add(registration('i1', 'calc'))).toBe(false);
    expect(registrar.refusal('i1')).toBe(full);
    brokers.register = () => Promise.reject(denied);
    expect(await registrar.add(registration('i2', 'calc'))).toBe(false);
    expect(registrar.refusal('i2')).toBe(denied);
    brokers.register = () => Promise.reject(forged);
    expect(await registrar.add(registration('i3', 'calc'))).toBe(false);
    expect(registrar.refusal('i3')).toBeUndefined();
    registrar.close();
  });

  test('registrar - a registration attempt waits at least 2 s for its answer (a heartbeat when longer), retries too', async () => {
    vi.useFakeTimers();
    for (const [heartbeatMs, waitMs] of [
      [100, 2000],
      [5000, 5000],
    ] as const) {
      const brokers = new MemoryBrokerClient('a');
      const waits: number[] = [];
      // The memory broker ignores the wait; the registrar's choice of it is what is tested.
      Object.assign(brokers, {
        register: async (_instance: InstanceRegistration, timeoutMs: number) => {
          waits.push(timeoutMs);
          throw new SwitchboardError(ErrorCode.UNAVAILABLE, 'no responders', { completed: 'no' });
        },
      });
      const registrar = new Registrar(brokers, silentLogger, heartbeatMs);
      await registrar.add(registration('i1', 'calc'));
      await vi.advanceTimersByTimeAsync(heartbeatMs * 2);
      registrar.close();
      expect(waits).toEqual([waitMs, waitMs, waitMs]);
    }
  });

  test('registrar - a session whose registration was taken but not confirmed is renewed, counting none confirmed; none ever without a session; close stops every timer', async () => {
    vi.useFakeTimers();
    const busy = new MemoryBrokerClient('a');
    const session = { id: 'half1', secret: 'the-session-secret-1' };
    const inSession = new Registrar(busy, silentLogger, 100, session);
    // The broker takes every registration, but its answers come too late.
    const take = busy.register.bind(busy);
    busy.register = async (instance) => {
      await take(instance);
      throw new SwitchboardError(ErrorCode.TIMEOUT, 'no reply within 2000 ms', {
        completed: 'maybe',
      });
    };
    expect(await inSession.add(registration('r1', 'calc'), 10)).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(busy.registry.expire()).toEqual([]);
    expect(busy.registry.get('r1')).toBeDefined();
    expect(busy.renewals.length).toBeGreaterThanOrEqual(9);
    expect(busy.renewals.every(({ routes }) => routes === 0)).toBe(true);
    // A session holding no route renews nothing.
    const renewed = busy.renewals.length;
    inSession.remove('r1');
    await vi.advanceTimersByTimeAsync(500);
    expect(busy.renewals).toHaveLength(renewed);
    const { brokers, registrar } = registrarAt();
    await registrar.add(registration('i1', 'calc'));
    brokers.linkState('up');
    await vi.advanceTimersByTimeAsync(250);
    expect(brokers.renewals).toEqual([]);
    brokers.linkState('up');
    inSession.close();
    registrar.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  test('registrar - deregistrations of the last 10 s are sent again after a reconnection (one may have been lost), not for an id added again', async () => {
    vi.useFakeTimers();
    const { brokers, registrar } = registrarAt(50_000);
    for (const id of ['old', 'gone', 'back']) await registrar.add(registration(id, 'calc'));
    const deregister = brokers.deregister.bind(brokers);
    const sent: string[] = [];
    let lost = true;
    brokers.deregister = (instance) => {
      sent.push(instance.id);
      if (!lost) deregister(instance);
    };
    registrar.remove('old');
    await vi.advanceTimersByTimeAsync(10_001);
    registrar.remove('gone');
    registrar.remove('back');
    lost = false;
    await registrar.add(registration('back', 'calc'));
    brokers.linkState('down');
    brokers.linkState('up');
    expect(sent).toEqual(['old', 'gone', 'back', 'gone']);
    expect(brokers.registry.get('gone')).toBeUndefined();
    expect(brokers.registry.get('back')).toBeDefined();
    // Lost and forgotten: its lease ends it.
    expect(brokers.registry.get('old')).toBeDefined();
    registrar.close();
    brokers.linkState('up');
    expect(sent).toHaveLength(5);
  });

  test('registrar - adding an id again replaces the old entry (deregistered first)', async () => {
    const { brokers, registrar } = registrarAt();
    await registrar.add(registration('i1', 'calc'));
    await registrar.add(registration('i1', 'calc', { version: '2.0.0' }));
    expect(registrar.size).toBe(1);
    expect(brokers.registry.get('i1')?.version).toBe('2.0.0');
    expect(brokers.listenerCounts().reregister).toBe(1);
    registrar.close();
  });

  /**
   * A registrar (heartbeat 500 ms) whose broker never answers a registration
   * sent while `link.down` (its attempt waits out its 2 s), or, when
   * `failFast`, refuses it at once as unreachable; `sent` says, per
   * registration sent, whether the link was down.
   */
  function registrarOverFlakyLink(failFast = false) {
    vi.useFakeTimers();
    const { brokers, registrar } = registrarAt(500);
    const register = brokers.register.bind(brokers);
    const link = { down: false };
    const sent: boolean[] = [];
    Object.assign(brokers, {
      register: (instance: InstanceRegistration, timeoutMs: number) => {
        sent.push(link.down);
        if (!link.down) return register(instance);
        if (failFast) {
          return Promise.reject(
            new SwitchboardError(ErrorCode.UNAVAILABLE, 'no responders', { completed: 'no' }),
          );
        }
        return new Promise((_, reject) => {
          const late = new SwitchboardError(ErrorCode.TIMEOUT, 'no reply', { completed: 'maybe' });
          setTimeout(() => reject(late), timeoutMs);
        });
      },
    });
    const setLink = (state: 'up' | 'down') => {
      link.down = state === 'down';
      brokers.linkState(state);
    };
    return { brokers, registrar, sent, setLink };
  }

  test('registrar - back after a disconnection, an unconfirmed instance is registered at once, not after the attempt sent while down', async () => {
    const { brokers, registrar, sent, setLink } = registrarOverFlakyLink();
    setLink('down');
    let added: boolean | undefined;
    void registrar.add(registration('r1', 'calc')).then((ok) => (added = ok));
    await vi.advanceTimersByTimeAsync(300);
    setLink('up');
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([true, false]);
    expect(registrar.isRegistered('r1')).toBe(true);
    expect(brokers.registry.get('r1')).toBeDefined();
    // add() settles at the confirmation, not when the attempt sent while down ends.
    expect(added).toBe(true);
    // The resumed beats (250 and 750 ms) and the heartbeats send nothing more.
    await vi.advanceTimersByTimeAsync(2000);
    expect(sent).toEqual([true, false]);
    // A registered instance is not registered again at the next reconnection.
    setLink('down');
    setLink('up');
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([true, false]);
    registrar.close();
  });

  test('registrar - back after a disconnection, one registration per unconfirmed instance, however its last attempt ended', async () => {
    const { registrar, sent, setLink } = registrarOverFlakyLink(true);
    setLink('down');
    expect(await registrar.add(registration('r1', 'calc'))).toBe(false);
    expect(sent).toEqual([true]);
    // No attempt under way: the resumed beat alone registers it.
    setLink('up');
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([true, false]);
    expect(registrar.isRegistered('r1')).toBe(true);
    registrar.close();
  });

  test('registrar - an attempt sent after the reconnection is not sent again by a later beat', async () => {
    const { brokers, registrar, sent, setLink } = registrarOverFlakyLink();
    setLink('down');
    void registrar.add(registration('r1', 'calc'));
    // Back, but the broker takes its time: the attempt sent now is the one to wait for.
    let answer!: () => void;
    const register = brokers.register;
    Object.assign(brokers, {
      register: (instance: InstanceRegistration) => {
        sent.push(false);
        return new Promise((resolve) => {
          answer = () => resolve(register.call(brokers, instance));
        });
      },
    });
    setLink('up');
    // Nor once the attempt sent while down has ended (at 2 s): the newer one is still awaited.
    await vi.advanceTimersByTimeAsync(2600);
    expect(sent).toEqual([true, false]);
    answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(registrar.isRegistered('r1')).toBe(true);
    registrar.close();
  });

  test('registrar - a refusal that comes after a newer attempt confirmed the instance is not kept', async () => {
    const { brokers, registrar, setLink } = registrarOverFlakyLink();
    let refuse!: () => void;
    const register = brokers.register;
    let first = true;
    Object.assign(brokers, {
      register: (instance: InstanceRegistration) => {
        if (!first) return register.call(brokers, instance);
        first = false;
        return new Promise((_, reject) => {
          refuse = () =>
            reject(new SwitchboardError(ErrorCode.UNAVAILABLE, 'registry full', { site: 'a' }));
        });
      },
    });
    void registrar.add(registration('r1', 'calc'));
    setLink('down');
    setLink('up');
    await vi.advanceTimersByTimeAsync(0);
    expect(registrar.isRegistered('r1')).toBe(true);
    refuse();
    await vi.advanceTimersByTimeAsync(0);
    expect(registrar.refusal('r1')).toBeUndefined();
    registrar.close();
  });

  test('registrar - an instance removed while its registration is in flight is deregistered again', async () => {
    const { brokers, registrar } = registrarAt();
    let answer!: () => void;
    const register = brokers.register.bind(brokers);
    brokers.register = (instance) =>
      new Promise((resolve) => (answer = () => resolve(register(instance))));
    const adding = registrar.add(registration('i1', 'calc'));
    await vi.waitFor(() => expect(answer).toBeDefined());
    registrar.remove('i1');
    expect(await adding).toBe(false);
    answer();
    // The broker took it after the deregistration: the registrar deregisters it again.
    expect(brokers.registry.get('i1')).toBeDefined();
    await vi.waitFor(() => expect(brokers.registry.get('i1')).toBeUndefined());
    expect(registrar.isRegistered('i1')).toBe(false);
  });

  test('registrar - a broker stopping is no reason to register again', async () => {
    const { brokers, registrar, registrations } = registrarAt(60_000);
    await registrar.add(registration('i1', 'calc'));
    brokers.brokerEvent('stopping');
    await Promise.resolve();
    expect(registrations()).toBe(1);
    registrar.close();
    expect(await registrar.add(registration('i2', 'calc'))).toBe(false);
  });

  test('registrar - registers with its own heartbeat, then heartbeats on every tick', async () => {
    vi.useFakeTimers();
    const { brokers, registrar } = registrarAt(100);
    expect(await registrar.add(registration('i1', 'calc', { heartbeatMs: 9999 }))).toBe(true);
    expect(registrar.isRegistered('i1')).toBe(true);
    expect(registrar.site).toBe('a');
    expect(brokers.requests).toEqual([{ kind: 'register', service: 'calc', heartbeatMs: 100 }]);
    await vi.advanceTimersByTimeAsync(350);
    expect(brokers.heartbeats).toEqual(['i1', 'i1', 'i1']);
    registrar.close();
  });

  test('registrar - back after a disconnection, registered instances heartbeat at once saying they resumed', async () => {
    vi.useFakeTimers();
    const { brokers, registrar } = registrarAt(50_000);
    await registrar.add(registration('i1', 'calc'));
    brokers.available = false;
    await registrar.add(registration('unconfirmed', 'calc'));
    brokers.available = true;
    const events: string[] = [];
    brokers.onInstanceEvent((e) => events.push(`${e.kind} ${e.id}`));
    brokers.linkState('down');
    expect(brokers.heartbeats).toEqual([]);
    brokers.linkState('up');
    expect(brokers.resumedBeats).toEqual(['i1']);
    // An instance no broker confirmed yet registers instead.
    expect(events).toEqual(['resumed i1', 'up unconfirmed']);
    registrar.close();
    brokers.linkState('up');
    expect(brokers.resumedBeats).toEqual(['i1']);
  });

  test('registrar - says it resumed again shortly after, for brokers still reconnecting; a new disconnection or close stops that', async () => {
    vi.useFakeTimers();
    const { brokers, registrar } = registrarAt(50_000);
    await registrar.add(registration('i1', 'calc'));
    brokers.linkState('up');
    await vi.advanceTimersByTimeAsync(1000);
    expect(brokers.resumedBeats).toEqual(['i1', 'i1', 'i1']);
    brokers.linkState('up');
    brokers.linkState('down');
    await vi.advanceTimersByTimeAsync(1000);
    expect(brokers.resumedBeats).toHaveLength(4);
    brokers.linkState('up');
    registrar.close();
    await vi.advanceTimersByTimeAsync(1000);
    expect(brokers.resumedBeats).toHaveLength(5);
  });

  test('registrar - a broker that starts gets every instance registered again', async () => {
    const { brokers, registrar, registrations } = registrarAt();
    await registrar.add(registration('i1', 'calc'));
    await registrar.add(registration('i2', 'calc'));
    brokers.registry.deregister('i1');
    brokers.registry.deregister('i2');
    brokers.brokerEvent('started');
    await vi.waitFor(() => expect(brokers.registry.size).toBe(2));
    expect(registrations()).toBe(4);
    brokers.brokerEvent('stopping');
    expect(registrations()).toBe(4);
    registrar.close();
  });

  test('registrar - a broker that does not know an instance gets it registered again', async () => {
    const { brokers, registrar } = registrarAt();
    await registrar.add(registration('i1', 'calc'));
    brokers.registry.deregister('i1');
    brokers.askToReregister('i1');
    await vi.waitFor(() => expect(brokers.registry.get('i1')).toBeDefined());
    registrar.close();
  });

  test('registrar - unconfirmed registrations are retried at the next heartbeat', async () => {
    vi.useFakeTimers();
    const { brokers, registrar } = registrarAt(100);
    brokers.available = false;
    expect(await registrar.add(registration('i1', 'calc'))).toBe(false);
    const confirmed = registrar.whenRegistered('i1');
    brokers.available = true;
    await vi.advanceTimersByTimeAsync(100);
    expect(await confirmed).toBe(true);
    expect(brokers.heartbeats).toEqual([]);
    registrar.close();
  });

  test('registrar - remove deregisters at once and wakes waiters with false; close removes all and detaches', async () => {
    const { brokers, registrar } = registrarAt();
    brokers.available = false;
    await registrar.add(registration('i1', 'calc'));
    const waiting = registrar.whenRegistered('i1');
    registrar.remove('i1');
    expect(await waiting).toBe(false);
    brokers.available = true;
    await registrar.add(registration('i2', 'calc'));
    expect(brokers.registry.size).toBe(1);
    registrar.close();
    expect(brokers.registry.size).toBe(0);
    expect(brokers.listenerCounts()).toEqual({ instance: 0, broker: 0, link: 0, reregister: 0 });
    expect(await registrar.add(registration('i3', 'calc'))).toBe(false);
    expect(registrar.size).toBe(0);
    expect(brokers.listenerCounts().reregister).toBe(0);
  });

  test('registrar - removing an id it does not hold does nothing', async () => {
    const { brokers, registrar } = registrarAt();
    await registrar.add(registration('i1', 'calc'));
    registrar.remove('nobody');
    expect(registrar.size).toBe(1);
    expect(ids(brokers.registry.instances())).toEqual(['i1']);
    registrar.close();
  });

  test('registrar - an instance a broker asks for again is unconfirmed until it registers again', async () => {
    const { brokers, registrar } = registrarAt();
    await registrar.add(registration('i1', 'calc'));
    await registrar.add(registration('i2', 'calc'));
    brokers.askToReregister('i1');
    expect(registrar.isRegistered('i1')).toBe(false);
    expect(registrar.isRegistered('i2')).toBe(true);
    expect(await registrar.whenRegistered('i1')).toBe(true);
    brokers.brokerEvent('started');
    expect([registrar.isRegistered('i1'), registrar.isRegistered('i2')]).toEqual([false, false]);
    expect(await registrar.whenRegistered('i2')).toBe(true);
    registrar.close();
  });

  test('registrar - remembers the last 10,000 deregistrations to send again, no more', async () => {
    const { brokers, registrar } = registrarAt(50_000);
    for (let i = 0; i <= 10_000; i++) {
      await registrar.add(registration(`i${i}`, 'calc'));
      registrar.remove(`i${i}`);
    }
    const again: string[] = [];
    brokers.deregister = (instance) => void again.push(instance.id);
    brokers.linkState('up');
    expect(again).toHaveLength(10_000);
    expect([again[0], again.at(-1)]).toEqual(['i1', 'i10000']);
    registrar.close();
  });

  test('registrar - logs a confirmed registration at info, a refusal as a warning, a broker not reached at debug', async () => {
    const brokers = new MemoryBrokerClient('a');
    const logger = new RecordingLogger();
    const registrar = new Registrar(brokers, logger, 100);
    await registrar.add(registration('i1', 'calc'));
    expect(logger.lines).toEqual([
      {
        level: 'info',
        message: 'registered',
        fields: { service: 'calc', id: 'i1', site: 'a', broker: 'memory' },
      },
    ]);
    brokers.askToReregister('i1');
    expect(logger.lines.at(-1)).toEqual({
      level: 'info',
      message: 'broker asked to register again',
      fields: { id: 'i1' },
    });
    await registrar.whenRegistered('i1');
    const refusal = new SwitchboardError(ErrorCode.FORBIDDEN, 'held by another', { site: 'a' });
    brokers.register = () => Promise.reject(refusal);
    await registrar.add(registration('i2', 'calc'));
    expect(logger.lines.at(-1)).toEqual({
      level: 'warn',
      message: 'registration refused: held by another',
      fields: { id: 'i2', code: ErrorCode.FORBIDDEN },
    });
    brokers.register = () => Promise.reject(new Error('no route'));
    await registrar.add(registration('i3', 'calc'));
    expect(logger.lines.at(-1)).toEqual({
      level: 'debug',
      message: 'registration failed',
      fields: { id: 'i3', error: 'no route' },
    });
    registrar.close();
  });

  test('registrar - a refusal repeated at each heartbeat is a warning once, then debug; another refusal is a warning again', async () => {
    vi.useFakeTimers();
    const brokers = new MemoryBrokerClient('a');
    const logger = new RecordingLogger();
    const registrar = new Registrar(brokers, logger, 100);
    let refusal = new SwitchboardError(ErrorCode.BAD_REQUEST, 'too many methods', { site: 'a' });
    brokers.register = () => Promise.reject(refusal);
    await registrar.add(registration('i1', 'calc'));
    await vi.advanceTimersByTimeAsync(2500);
    const said = () => logger.lines.map((line) => `${line.level}: ${line.message}`);
    expect(said().filter((line) => line.startsWith('warn'))).toEqual([
      'warn: registration refused: too many methods',
    ]);
    expect(said().filter((line) => line.startsWith('debug')).length).toBeGreaterThan(0);
    refusal = new SwitchboardError(ErrorCode.UNAVAILABLE, 'the registry is full', { site: 'a' });
    await vi.advanceTimersByTimeAsync(2500);
    expect(said().filter((line) => line.startsWith('warn'))).toEqual([
      'warn: registration refused: too many methods',
      'warn: registration refused: the registry is full',
    ]);
    registrar.close();
  });

  test('registrar - refusals worded anew every time are warnings a few at a time, each cut to 1000 characters', async () => {
    vi.useFakeTimers();
    const brokers = new MemoryBrokerClient('a');
    const logger = new RecordingLogger();
    const registrar = new Registrar(brokers, logger, 100);
    let n = 0;
    brokers.register = () =>
      Promise.reject(
        new SwitchboardError(ErrorCode.UNAVAILABLE, `full ${n++} ${'x'.repeat(5000)}`, {
          site: 'a',
        }),
      );
    for (let i = 0; i < 20; i++) await registrar.add(registration(`i${i}`, 'calc'));
    await vi.advanceTimersByTimeAsync(2000);
    const warnings = logger.lines.filter((line) => line.level === 'warn');
    expect(n).toBeGreaterThan(100);
    expect(warnings).toHaveLength(5);
    for (const line of warnings) expect(line.message.length).toBe(1023);
    registrar.close();
  });

  describe('registrar - lease session', () => {
    const session = { id: 'half1', secret: 'the-session-secret-1' };

    test('registrar - in a session, one renewal per tick replaces the heartbeats', async () => {
      vi.useFakeTimers();
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 100, session);
      for (const id of ['r1', 'r2', 'r3']) await registrar.add(registration(id, 'calc'));
      await vi.advanceTimersByTimeAsync(250);
      expect(brokers.heartbeats).toEqual([]);
      expect(brokers.renewals).toEqual([
        { session: 'half1', routes: 3, held: 3, gone: [] },
        { session: 'half1', routes: 3, held: 3, gone: [] },
      ]);
      expect(renewedIn(brokers.registry, 'half1', session.secret)).toBe(3);
      expect(brokers.listenerCounts().reregister).toBe(1);
      registrar.close();
      expect(brokers.listenerCounts().reregister).toBe(0);
    });

    test('registrar - back after a disconnection, a session says in one renewal that all its routes resumed, three times', async () => {
      vi.useFakeTimers();
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 50_000, session);
      for (const id of ['r1', 'r2', 'r3']) await registrar.add(registration(id, 'calc'));
      const events: string[] = [];
      brokers.onInstanceEvent((e) => events.push(`${e.kind} ${e.id}`));
      brokers.linkState('down');
      brokers.linkState('up');
      await vi.advanceTimersByTimeAsync(1000);
      expect(brokers.heartbeats).toEqual([]);
      const resumed = { session: 'half1', routes: 3, held: 3, gone: [], resumed: true };
      expect(brokers.renewals).toEqual([resumed, resumed, resumed]);
      // Callers hear each route resumed once (the broker's interval).
      expect(events).toEqual(['resumed r1', 'resumed r2', 'resumed r3']);
      registrar.close();
    });

    test('registrar - the routes of a session added in one turn are registered in one batch', async () => {
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 1000, session);
      const added = ['r1', 'r2', 'r3'].map((id) => registrar.add(registration(id, 'calc')));
      expect(await Promise.all(added)).toEqual([true, true, true]);
      await registrar.add(registration('r4', 'calc'));
      expect(brokers.batches).toEqual([3, 1]);
      expect(brokers.registry.get('r2')).toMatchObject({ service: 'calc' });
      registrar.close();
    });

    test('registrar - a route withdrawn before its batch goes is left out of it; closed, nothing goes', async () => {
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 1000, session);
      const added = ['r1', 'r2', 'r3'].map((id) => registrar.add(registration(id, 'calc')));
      registrar.remove('r2');
      expect(await Promise.all(added)).toEqual([true, false, true]);
      expect(brokers.batches).toEqual([2]);
      expect(ids(brokers.registry.instances())).toEqual(['r1', 'r3']);
      const late = registrar.add(registration('r4', 'calc'));
      registrar.close();
      expect(await late).toBe(false);
      expect(brokers.batches).toEqual([2]);
      expect(ids(brokers.registry.instances())).toEqual([]);
    });

    test('registrar - a route of a batch the broker refuses is refused alone; the others are registered', async () => {
      const brokers = new MemoryBrokerClient('a');
      brokers.registry.register(registration('r2', 'calc', { secret: 'another-secret-of-16' }));
      const registrar = new Registrar(brokers, silentLogger, 1000, session);
      const added = ['r1', 'r2', 'r3'].map((id) => registrar.add(registration(id, 'calc')));
      expect(await Promise.all(added)).toEqual([true, false, true]);
      expect(brokers.batches).toEqual([3]);
      expect(registrar.refusal('r2')?.code).toBe(ErrorCode.FORBIDDEN);
      expect(registrar.isRegistered('r1') && registrar.isRegistered('r3')).toBe(true);
      // (This fake broker throws at a deregistration with another secret; a real one ignores it.)
      brokers.registry.deregister('r2');
      registrar.close();
    });

    test('registrar - a batch no broker answers fails each of its routes, registered again at the next beat', async () => {
      vi.useFakeTimers();
      const brokers = new MemoryBrokerClient('a');
      brokers.available = false;
      const registrar = new Registrar(brokers, silentLogger, 100, session);
      const added = ['r1', 'r2'].map((id) => registrar.add(registration(id, 'calc')));
      expect(await Promise.all(added)).toEqual([false, false]);
      expect(registrar.refusal('r1')).toBeUndefined();
      brokers.available = true;
      await vi.advanceTimersByTimeAsync(100);
      expect(registrar.isRegistered('r1') && registrar.isRegistered('r2')).toBe(true);
      expect(brokers.batches).toEqual([2, 2]);
      registrar.close();
    });

    test('registrar - asked again by a broker without batches, a session registers each route on its own, from then on', async () => {
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 1000, session);
      await Promise.all(['r1', 'r2'].map((id) => registrar.add(registration(id, 'calc'))));
      const registers = () => brokers.requests.filter((r) => r.kind === 'register').length;
      expect([brokers.batches, registers()]).toEqual([[2], 2]);
      brokers.loseSession(session.id, false);
      await vi.waitFor(() => expect(registers()).toBe(4));
      // Once those attempts have ended (an ask joins the attempts under way).
      await new Promise((resolve) => setImmediate(resolve));
      // Even a new broker's ask, and a route added later: a broker without batches may be there.
      brokers.loseSession(session.id);
      await vi.waitFor(() => expect(registers()).toBe(6));
      await registrar.add(registration('r3', 'calc'));
      expect([brokers.batches, registers()]).toEqual([[2], 7]);
      registrar.close();
    });

    test('registrar - asks from two brokers without batches: each route goes on its own once', async () => {
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 1000, session);
      await Promise.all(['r1', 'r2'].map((id) => registrar.add(registration(id, 'calc'))));
      brokers.loseSession(session.id, false);
      brokers.loseSession(session.id, false);
      await vi.waitFor(() => expect(registrar.isRegistered('r1')).toBe(true));
      await new Promise((resolve) => setImmediate(resolve));
      const registers = brokers.requests.filter((r) => r.kind === 'register').length;
      expect([brokers.batches, registers]).toEqual([[2], 4]);
      registrar.close();
    });

    test('registrar - an ask without batches does not wait for a batch under way: each route goes at once', async () => {
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 1000, session);
      const added = ['r1', 'r2'].map((id) => registrar.add(registration(id, 'calc')));
      // In the same turn: the batch has not gone yet.
      brokers.loseSession(session.id, false);
      expect(await Promise.all(added)).toEqual([true, true]);
      const registers = brokers.requests.filter((r) => r.kind === 'register').length;
      expect([brokers.batches, registers]).toEqual([[2], 4]);
      registrar.close();
    });

    test('registrar - where no broker takes batches, each route goes on its own, unless withdrawn meanwhile', async () => {
      const brokers = new MemoryBrokerClient('a');
      brokers.takesBatches = false;
      const registrar = new Registrar(brokers, silentLogger, 1000, session);
      const added = ['r1', 'r2', 'r3'].map((id) => registrar.add(registration(id, 'calc')));
      // After the batch went, before its answer: r2 is withdrawn.
      await Promise.resolve();
      expect(brokers.batches).toEqual([3]);
      registrar.remove('r2');
      expect(await Promise.all(added)).toEqual([true, false, true]);
      expect(ids(brokers.registry.instances())).toEqual(['r1', 'r3']);
      expect(brokers.requests.filter((r) => r.kind === 'register')).toHaveLength(2);
      registrar.close();
    });

    test('registrar - a broker that knows fewer routes than renewed gets them all again', async () => {
      vi.useFakeTimers();
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 100, session);
      await registrar.add(registration('r1', 'calc'));
      await registrar.add(registration('r2', 'calc'));
      brokers.registry.deregister('r2');
      await vi.advanceTimersByTimeAsync(150);
      await vi.waitFor(() => expect(brokers.registry.size).toBe(2));
      const registers = brokers.requests.filter((r) => r.kind === 'register').length;
      expect(registers).toBe(4);
      registrar.close();
    });

    test('registrar - a route deregistered lately is named gone in every renewal for 10 s, so a broker that missed the deregistration drops it', async () => {
      vi.useFakeTimers();
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 1000, session);
      for (const id of ['r1', 'r2', 'r3']) await registrar.add(registration(id, 'calc'));
      // The deregistration of r2 is lost on its way.
      const deregister = brokers.deregister;
      brokers.deregister = () => {};
      registrar.remove('r2');
      brokers.deregister = deregister;
      expect(ids(brokers.registry.instances())).toEqual(['r1', 'r2', 'r3']);
      const down: string[] = [];
      brokers.onInstanceEvent((e) => {
        if (e.kind === 'down') down.push(e.id);
      });
      await vi.advanceTimersByTimeAsync(1000);
      expect(brokers.renewals.at(-1)).toEqual({
        session: 'half1',
        routes: 2,
        held: 2,
        gone: ['r2'],
      });
      expect(ids(brokers.registry.instances())).toEqual(['r1', 'r3']);
      expect(down).toEqual(['r2']);
      // Named in every renewal while remembered, then no more.
      await vi.advanceTimersByTimeAsync(8000);
      expect(brokers.renewals.at(-1)?.gone).toEqual(['r2']);
      // Removed at 0; the renewal at exactly 10 s no longer names it.
      await vi.advanceTimersByTimeAsync(1000);
      expect(brokers.renewals.at(-1)?.gone).toEqual([]);
      registrar.close();
    });

    test('registrar - a route whose lost deregistration is no longer named gone is dropped once the others are registered again', async () => {
      vi.useFakeTimers();
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 1000, session);
      await registrar.add(registration('kept', 'calc'));
      const deregister = brokers.deregister;
      for (let i = 0; i < 1001; i++) {
        await registrar.add(registration(`r${i}`, 'calc'));
        // The deregistration of r0, the oldest, is lost; renewals name only the newest 1000.
        if (i === 0) brokers.deregister = () => {};
        registrar.remove(`r${i}`);
        brokers.deregister = deregister;
      }
      expect(ids(brokers.registry.instances())).toEqual(['kept', 'r0']);
      const down: string[] = [];
      brokers.onInstanceEvent((e) => {
        if (e.kind === 'down') down.push(e.id);
      });
      // First renewal: the broker holds 2 of the session, the half 1: it asks for them again.
      await vi.advanceTimersByTimeAsync(1000);
      expect(brokers.renewals.at(-1)).toMatchObject({ routes: 1, held: 1 });
      expect(brokers.renewals.at(-1)?.gone).not.toContain('r0');
      expect(ids(brokers.registry.instances())).toEqual(['kept', 'r0']);
      // 'kept' registered again since: the next renewal drops r0.
      await vi.advanceTimersByTimeAsync(1000);
      expect(ids(brokers.registry.instances())).toEqual(['kept']);
      expect(down).toEqual(['r0']);
      registrar.close();
    });

    test('registrar - a route the broker refused is not counted held: a stale route of the session still goes', async () => {
      vi.useFakeTimers();
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 1000, session);
      await registrar.add(registration('r1', 'calc'));
      // A route of the session this half no longer holds, its deregistration long lost.
      const { secret } = session;
      brokers.registry.register({ ...registration('stale', 'calc'), session: 'half1', secret });
      refuseRegistration(
        brokers,
        'big',
        () => new SwitchboardError(ErrorCode.BAD_REQUEST, 'too many methods', { site: 'a' }),
      );
      await registrar.add(registration('big', 'calc'));
      await vi.advanceTimersByTimeAsync(3000);
      expect(brokers.renewals.at(-1)).toMatchObject({ routes: 1, held: 1 });
      expect(ids(brokers.registry.instances())).toEqual(['r1']);
      registrar.close();
    });

    test('registrar - a route refused, then tried again without an answer, is counted held again (that attempt may have landed)', async () => {
      vi.useFakeTimers();
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 1000, session);
      await registrar.add(registration('r1', 'calc'));
      let failure = new SwitchboardError(ErrorCode.BAD_REQUEST, 'too many methods', { site: 'a' });
      refuseRegistration(brokers, 'big', () => failure);
      await registrar.add(registration('big', 'calc'));
      await vi.advanceTimersByTimeAsync(1000);
      expect(brokers.renewals.at(-1)).toMatchObject({ routes: 1, held: 1 });
      failure = new SwitchboardError(ErrorCode.UNAVAILABLE, 'no broker answered');
      await vi.advanceTimersByTimeAsync(2000);
      expect(brokers.renewals.at(-1)).toMatchObject({ routes: 1, held: 2 });
      registrar.close();
    });

    test('registrar - a renewal names the newest 1000 routes gone, no more', async () => {
      vi.useFakeTimers();
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 1000, session);
      await registrar.add(registration('kept', 'calc'));
      for (let i = 0; i < 1002; i++) {
        await registrar.add(registration(`r${i}`, 'calc'));
        registrar.remove(`r${i}`);
      }
      await vi.advanceTimersByTimeAsync(1000);
      const gone = brokers.renewals.at(-1)?.gone ?? [];
      expect(gone).toHaveLength(1000);
      expect([gone[0], gone.at(-1)]).toEqual(['r2', 'r1001']);
      registrar.close();
    });

    test('registrar - a broker asking for the session again is logged and gets every route', async () => {
      const brokers = new MemoryBrokerClient('a');
      const logger = new RecordingLogger();
      const registrar = new Registrar(brokers, logger, 1000, session);
      await registrar.add(registration('r1', 'calc'));
      brokers.loseSession('half1');
      expect(registrar.isRegistered('r1')).toBe(false);
      expect(logger.lines).toContainEqual({
        level: 'info',
        message: 'broker asked for the routes of the session again',
        fields: { session: 'half1' },
      });
      expect(await registrar.whenRegistered('r1')).toBe(true);
      registrar.close();
    });

    test('registrar - a route added again is no longer named gone', async () => {
      vi.useFakeTimers();
      const brokers = new MemoryBrokerClient('a');
      const registrar = new Registrar(brokers, silentLogger, 1000, session);
      await registrar.add(registration('r1', 'calc'));
      registrar.remove('r1');
      await registrar.add(registration('r1', 'calc'));
      await vi.advanceTimersByTimeAsync(1000);
      expect(brokers.renewals).toEqual([{ session: 'half1', routes: 1, held: 1, gone: [] }]);
      expect(ids(brokers.registry.instances())).toEqual(['r1']);
      registrar.close();
    });
  });
});
