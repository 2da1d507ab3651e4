/**
 * A bridge half's view of its site's registry over the in-memory broker
 * client, with fake timers: which views it gives, and when.
 */
import { describe, expect, test, vi } from 'vitest';
import { MAX_ADDED_BY_EVENTS, MAX_BYTES_ADDED_BY_EVENTS } from '../../src/bridge/registry-copy.js';
import { Registry } from '../../src/broker/index.js';
import type { InstanceEvent, SiteListing } from '../../src/core/index.js';
import {
  MAX_REPLAYED_EVENTS,
  type SiteView,
  SiteWatcher,
  WITHDRAW_HOLD_MS,
} from '../../src/internal.js';
import { silentLogger } from '../../src/util/index.js';
import {
  blobFilling,
  fakeTimers,
  instanceView,
  MemoryBrokerClient,
  memoryWatchedSite,
  registration,
  seed,
} from '../support/memory-site.js';

const TIMINGS = { heartbeatMs: 1000, refreshMs: 60_000 };

/**
 * A watcher of site a (with a reconnect grace of `graceMs`), with the views
 * it gave (instances by id) and its log lines.
 */
function watching(brokers = new MemoryBrokerClient('a'), graceMs = 0) {
  const lines: string[] = [];
  const logger = {
    ...silentLogger,
    debug: (m: string) => lines.push(`debug: ${m}`),
    info: (m: string) => lines.push(`info: ${m}`),
    warn: (m: string) => lines.push(`warn: ${m}`),
  };
  const site = memoryWatchedSite(brokers, graceMs);
  const watcher = new SiteWatcher(brokers, logger, TIMINGS, site);
  const views: string[] = [];
  watcher.watch((view) => views.push(show(view)));
  return { brokers, site, watcher, views, lines };
}

/** A site whose registry takes instances with up to 2 MiB of metadata. */
function roomyBrokers(): MemoryBrokerClient {
  return new MemoryBrokerClient(new Registry({ site: 'a', limits: { maxMetadataBytes: 2 << 20 } }));
}

/** A broker client whose registry reads wait until answered by hand. */
function slowBrokers(brokers = new MemoryBrokerClient('a')) {
  const answers: Array<() => void> = [];
  // A read that fails is held until answered: marked handled meanwhile, so
  // that its rejection is not reported as unhandled before the watcher gets it.
  const held = <T>(read: Promise<T>) => {
    read.catch(() => {});
    return new Promise<T>((resolve) => answers.push(() => resolve(read)));
  };
  const list = brokers.list.bind(brokers);
  brokers.list = (timeoutMs, unless) => held(list(timeoutMs, unless));
  const lookup = brokers.lookup.bind(brokers);
  brokers.lookup = (service, range) => held(lookup(service, range));
  return { brokers, answers };
}

/**
 * A watcher over {@link slowBrokers} whose first full view was answered,
 * once instances (id, service) registered: their lookups are under way.
 */
async function lookingUp(...instances: Array<[string, string]>) {
  const { brokers, answers } = slowBrokers();
  const { views } = watching(brokers);
  await settle();
  answers.shift()!();
  await settle();
  for (const [id, service] of instances) await brokers.register(registration(id, service));
  await settle();
  return { brokers, answers, views };
}

function show(view: SiteView): string {
  if (view.kind === 'lost') return 'lost';
  const ids = view.instances.map((i) => i.id).join(',');
  if (view.kind === 'full') return `full:${ids}`;
  if (view.kind === 'service') return `${view.service}:${ids}`;
  throw new Error(`unknown view kind ${JSON.stringify(view)}`);
}

/** The registry reads of `brokers` (listings and lookups), in order, and forgets them. */
function reads(brokers: MemoryBrokerClient): string[] {
  const made = brokers.requests
    .filter((r) => r.kind === 'list' || r.kind === 'lookup')
    .map((r) => (r.kind === 'list' ? 'list' : `lookup ${r.service}`));
  brokers.requests.length = 0;
  return made;
}

/** A registry event no broker sent: instance `id` of calc coming up at site a. */
function forged(id: string): InstanceEvent {
  return {
    kind: 'up',
    service: 'calc',
    id,
    site: 'a',
    view: instanceView(id, { service: 'calc' }),
  };
}

/** Lets the watcher's gathering delay pass and its reads finish. */
const settle = () => vi.advanceTimersByTimeAsync(10);

fakeTimers();

describe('site watcher', () => {
  test('site watcher - a full view first, then the service a registry event names', async () => {
    const brokers = new MemoryBrokerClient('a');
    await brokers.register(registration('i1', 'calc'));
    const { views } = watching(brokers);
    expect(views).toEqual([]);
    await settle();
    expect(views).toEqual(['full:i1']);
    await brokers.register(registration('i2', 'calc'));
    await settle();
    expect(views).toEqual(['full:i1', 'calc:i1,i2']);
  });

  test('site watcher - the events of one burst are read in one round, one lookup per service', async () => {
    const { brokers, views } = watching();
    await settle();
    expect(reads(brokers)).toEqual(['list']);
    await brokers.register(registration('i1', 'calc'));
    await brokers.register(registration('i2', 'calc'));
    await brokers.register(registration('j1', 'echo'));
    await vi.advanceTimersByTimeAsync(1);
    expect(reads(brokers)).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(views.slice(1)).toEqual(['calc:i1,i2', 'echo:j1']);
    expect(reads(brokers)).toEqual(['lookup calc', 'lookup echo']);
  });

  test('site watcher - sixteen services changed in one burst are looked up; seventeen are listed at once', async () => {
    const { brokers, views } = watching();
    await settle();
    reads(brokers);
    const services = Array.from({ length: 17 }, (_, n) => `s${String(n).padStart(2, '0')}`);
    for (const service of services.slice(0, 16)) {
      await brokers.register(registration(`${service}-1`, service));
    }
    await settle();
    expect(reads(brokers)).toEqual(services.slice(0, 16).map((s) => `lookup ${s}`));
    expect(views).toHaveLength(17);
    for (const service of services) await brokers.register(registration(`${service}-2`, service));
    await settle();
    expect(reads(brokers)).toEqual(['list']);
    expect(views).toHaveLength(18);
    expect(views[17]).toBe(
      `full:${services
        .slice(0, 16)
        .flatMap((s) => [`${s}-1`, `${s}-2`])
        .join(',')},s16-2`,
    );
  });

  test("site watcher - the events of the half's own routes and of moved connections are no news", async () => {
    const brokers = new MemoryBrokerClient('a');
    const instance = registration('i1', 'calc');
    await brokers.register(instance);
    const { views } = watching(brokers);
    await settle();
    reads(brokers);
    await brokers.register(registration('own-r1', 'echo'));
    brokers.heartbeat(instance, true);
    expect(brokers.resumedBeats).toEqual(['i1']);
    await settle();
    expect(views).toEqual(['full:i1']);
    expect(reads(brokers)).toEqual([]);
    await brokers.register(registration('own-x', 'own-service'));
    await brokers.register(registration('x-own-r2', 'echo'));
    await settle();
    expect(views).toEqual(['full:i1', 'echo:own-r1,x-own-r2']);
  });

  test('site watcher - a broker starting brings a full view; one stopping does not', async () => {
    const { brokers, views } = watching();
    await settle();
    brokers.registry.register(registration('quiet', 'calc'));
    brokers.brokerEvent('stopping');
    await settle();
    expect(views).toEqual(['full:']);
    brokers.brokerEvent('started');
    await settle();
    expect(views).toEqual(['full:', 'full:quiet']);
  });

  test('site watcher - a broker starting brings a full view even when the registry did not change', async () => {
    const { brokers, views } = watching();
    await settle();
    brokers.brokerEvent('started');
    await settle();
    expect(views).toEqual(['full:', 'full:']);
  });

  test('site watcher - one read at a time: events during a read wait for it, then go in one round', async () => {
    const { brokers, answers } = slowBrokers();
    const { views } = watching(brokers);
    await settle();
    expect(answers).toHaveLength(1);
    await brokers.register(registration('i1', 'calc'));
    await brokers.register(registration('j1', 'echo'));
    await settle();
    expect(answers).toHaveLength(1);
    answers.shift()!();
    await settle();
    expect(answers).toHaveLength(1);
    answers.shift()!();
    await settle();
    expect(views).toEqual(['full:', 'calc:i1']);
    expect(answers).toHaveLength(1);
    answers.shift()!();
    await settle();
    expect(views).toEqual(['full:', 'calc:i1', 'echo:j1']);
    expect(answers).toEqual([]);
  });

  test('site watcher - says when the link goes, when it comes back, and why a read failed', async () => {
    const brokers = new MemoryBrokerClient('a');
    const { lines } = watching(brokers);
    await settle();
    brokers.linkState('down');
    brokers.available = false;
    brokers.linkState('up');
    await settle();
    expect(lines).toEqual([
      "warn: lost the connection to site 'a'; withdrawing its routes",
      "info: reconnected to site 'a'",
      "debug: cannot read the registry at site 'a': no broker answered on this site",
    ]);
  });

  test('site watcher - the link going down is announced as lost at once, and nothing is read while down', async () => {
    const { brokers, watcher, views } = watching();
    await settle();
    expect(watcher.connected).toBe(true);
    brokers.linkState('down');
    expect(views).toEqual(['full:', 'lost']);
    expect(watcher.connected).toBe(false);
    reads(brokers);
    await brokers.register(registration('i1', 'calc'));
    brokers.brokerEvent('started');
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    expect(views).toEqual(['full:', 'lost']);
    expect(reads(brokers)).toEqual([]);
  });

  test('site watcher - a reconnection brings a full view at once, not at the next refresh', async () => {
    const { brokers, watcher, views } = watching();
    await settle();
    brokers.linkState('down');
    brokers.registry.register(registration('while-away', 'calc'));
    brokers.linkState('up');
    expect(watcher.connected).toBe(true);
    await settle();
    expect(views).toEqual(['full:', 'lost', 'full:while-away']);
  });

  test('site watcher - a reconnection brings a full view even when the registry did not change', async () => {
    const { brokers, views } = watching();
    await settle();
    brokers.linkState('down');
    brokers.linkState('up');
    await settle();
    expect(views).toEqual(['full:', 'lost', 'full:']);
  });

  test('site watcher - a read under way when the link changes is started again', async () => {
    const brokers = new MemoryBrokerClient('a');
    let answer: ((listing: SiteListing) => void) | undefined;
    const list = brokers.list.bind(brokers);
    brokers.list = () => new Promise((resolve) => (answer = resolve));
    const { views } = watching(brokers);
    await settle();
    expect(answer).toBeDefined();
    const stale = answer!;
    answer = undefined;
    brokers.linkState('down');
    brokers.list = list;
    brokers.registry.register(registration('fresh', 'calc'));
    brokers.linkState('up');
    await settle();
    stale({ site: 'a', services: [] });
    await settle();
    expect(views).toEqual(['lost', 'full:fresh']);
  });

  test('site watcher - a lookup under way when the link goes down is dropped, and read whole once back', async () => {
    const { brokers, answers, views } = await lookingUp(['i1', 'calc']);
    expect(answers).toHaveLength(1);
    brokers.linkState('down');
    await settle();
    answers.shift()!();
    await settle();
    expect(views).toEqual(['full:', 'lost']);
    brokers.linkState('up');
    await settle();
    expect(answers).toHaveLength(1);
    answers.shift()!();
    await settle();
    expect(views).toEqual(['full:', 'lost', 'full:i1']);
  });

  test('site watcher - the second lookup of a round is cut short by the link going down too', async () => {
    const { brokers, answers, views } = await lookingUp(['i1', 'calc'], ['j1', 'echo']);
    answers.shift()!();
    await settle();
    expect(views).toEqual(['full:', 'calc:i1']);
    expect(answers).toHaveLength(1);
    brokers.linkState('down');
    brokers.linkState('up');
    await settle();
    // The stale lookup of echo, and the full read asked for by the reconnection.
    expect(answers).toHaveLength(2);
    answers.pop()!();
    await settle();
    expect(views).toEqual(['full:', 'calc:i1', 'lost', 'full:i1,j1']);
  });

  test('site watcher - within the reconnect grace nothing is withdrawn; past it, lost', async () => {
    const { brokers, watcher, views, lines } = watching(new MemoryBrokerClient('a'), 500);
    await settle();
    brokers.linkState('down');
    expect(watcher.connected).toBe(false);
    await vi.advanceTimersByTimeAsync(499);
    expect(views).toEqual(['full:']);
    brokers.linkState('up');
    await settle();
    expect(views).toEqual(['full:', 'full:']);
    expect(lines).toEqual(["info: reconnected to site 'a' within 500 ms; its routes stay"]);
    brokers.linkState('down');
    await vi.advanceTimersByTimeAsync(499);
    expect(views).toEqual(['full:', 'full:']);
    await vi.advanceTimersByTimeAsync(1);
    expect(views).toEqual(['full:', 'full:', 'lost']);
    brokers.linkState('up');
    await settle();
    expect(views).toEqual(['full:', 'full:', 'lost', 'full:']);
    expect(lines.slice(1)).toEqual([
      "warn: lost the connection to site 'a'; withdrawing its routes",
      "info: reconnected to site 'a'",
    ]);
    watcher.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  test('site watcher - a full view every refreshMs, as a safety net', async () => {
    const { brokers, views } = watching();
    await settle();
    brokers.registry.register(registration('missed', 'calc'));
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs - 20);
    expect(views).toEqual(['full:']);
    await vi.advanceTimersByTimeAsync(20);
    await settle();
    expect(views).toEqual(['full:', 'full:missed']);
    brokers.registry.register(registration('missed-too', 'calc'));
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    expect(views).toEqual(['full:', 'full:missed', 'full:missed,missed-too']);
  });

  test('site watcher - a periodic refresh of an unchanged registry gives no view', async () => {
    const { brokers, views } = watching();
    await settle();
    const listed: Array<string | undefined> = [];
    const list = brokers.list.bind(brokers);
    brokers.list = (timeoutMs, unless) => {
      listed.push(unless);
      return list(timeoutMs, unless);
    };
    const generation = `memory.${brokers.registry.generation}`;
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    expect(views).toEqual(['full:']);
    expect(listed).toEqual([generation, generation]);
    // A change no event told of: the next refresh reads the registry whole.
    brokers.registry.register(registration('quiet', 'calc'));
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    expect(views).toEqual(['full:', 'full:quiet']);
    brokers.brokerEvent('started');
    await settle();
    expect(listed.slice(2)).toEqual([generation, undefined]);
    expect(views).toEqual(['full:', 'full:quiet', 'full:quiet']);
  });

  test('site watcher - no broker to answer: a full read again after a heartbeat', async () => {
    const brokers = new MemoryBrokerClient('a');
    brokers.available = false;
    const { views } = watching(brokers);
    await settle();
    expect(views).toEqual([]);
    expect(reads(brokers)).toEqual(['list']);
    brokers.available = true;
    brokers.registry.register(registration('i1', 'calc'));
    await vi.advanceTimersByTimeAsync(TIMINGS.heartbeatMs - 20);
    expect(views).toEqual([]);
    expect(reads(brokers)).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    await settle();
    expect(views).toEqual(['full:i1']);
    expect(reads(brokers)).toEqual(['list']);
  });

  test('site watcher - a lookup no broker answered is followed by a full read after a heartbeat', async () => {
    const { brokers, views } = watching();
    await settle();
    reads(brokers);
    brokers.registry.register(registration('i1', 'calc'));
    const lookup = brokers.lookup.bind(brokers);
    brokers.lookup = async () => {
      brokers.lookup = lookup;
      throw new Error('no broker answered');
    };
    await brokers.register(registration('i2', 'calc'));
    await settle();
    expect(views).toEqual(['full:']);
    expect(reads(brokers)).toEqual([]);
    await vi.advanceTimersByTimeAsync(TIMINGS.heartbeatMs);
    expect(views).toEqual(['full:', 'full:i1,i2']);
    expect(reads(brokers)).toEqual(['list']);
  });

  test('site watcher - a read answered after close gives no view', async () => {
    const { brokers, answers } = slowBrokers();
    const { watcher, views } = watching(brokers);
    await settle();
    watcher.close();
    answers.shift()!();
    await settle();
    expect(views).toEqual([]);
  });

  test('site watcher - a read failing after close is not tried again', async () => {
    const brokers = new MemoryBrokerClient('a');
    let fail: ((err: Error) => void) | undefined;
    brokers.list = () => new Promise((_, reject) => (fail = reject));
    const { watcher } = watching(brokers);
    await settle();
    watcher.close();
    fail!(new Error('no broker answered'));
    await settle();
    expect(vi.getTimerCount()).toBe(0);
  });

  test('site watcher - close stops every view and detaches from the broker client', async () => {
    const { brokers, site, watcher, views } = watching();
    await settle();
    expect(brokers.listenerCounts()).toMatchObject({ instance: 1, broker: 1, link: 2 });
    expect(site.listeners()).toBe(1);
    watcher.close();
    watcher.close();
    await brokers.register(registration('i1', 'calc'));
    brokers.brokerEvent('started');
    brokers.linkState('down');
    brokers.linkState('up');
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    expect(views).toEqual(['full:']);
    expect(brokers.listenerCounts()).toMatchObject({ instance: 0, broker: 0, link: 1 });
    expect(site.listeners()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('site watcher - events carrying the instance', () => {
  /** A watcher over brokers that send views, once its first full view is in; `answers` as in {@link slowBrokers}. */
  async function withViews(slow = false, site = new MemoryBrokerClient('a')) {
    const { brokers, answers } = slow ? slowBrokers(site) : { brokers: site, answers: [] };
    brokers.sendsViews = true;
    await brokers.register(registration('i1', 'calc'));
    const watched = watching(brokers);
    await settle();
    answers.shift()?.();
    await settle();
    expect(watched.views).toEqual(['full:i1']);
    expect(reads(brokers)).toEqual(['list']);
    return { ...watched, answers };
  }

  /** {@link withViews} over a broker that sends no views and answers every lookup truncated. */
  async function truncating() {
    const watched = await withViews();
    watched.brokers.sendsViews = false;
    watched.brokers.truncatesLookups = true;
    return watched;
  }

  /**
   * Raises a forged `up` while the read that `start` begins is under way,
   * expects it passed on as `seenAs`, then undone by the next refresh: the
   * event did not follow on from the listing, so that refresh lists the
   * registry whole.
   */
  async function forgedDuringRead(
    start: (brokers: MemoryBrokerClient) => Promise<unknown>,
    seenAs: string,
  ) {
    const { brokers, views, answers } = await withViews(true);
    await start(brokers);
    brokers.raise(forged('fake'));
    answers.shift()!();
    await settle();
    expect(views.at(-1)).toBe(seenAs);
    reads(brokers);
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    answers.shift()!();
    await settle();
    expect(reads(brokers)).toEqual(['list']);
    expect(answers).toEqual([]);
    expect(views.at(-1)).toBe('full:i1');
  }

  test('site watcher - an instance coming or going is passed on from the copy, with no read', async () => {
    const { brokers, views } = await withViews();
    await brokers.register(registration('i2', 'calc'));
    await brokers.register(registration('j1', 'echo'));
    await settle();
    expect(views.slice(1)).toEqual(['calc:i1,i2', 'echo:j1']);
    brokers.deregister(registration('i1', 'calc'));
    brokers.deregister(registration('j1', 'echo'));
    // A going is held back for WITHDRAW_HOLD_MS, then passed on.
    await vi.advanceTimersByTimeAsync(WITHDRAW_HOLD_MS - 1);
    expect(views).toHaveLength(3);
    await settle();
    expect(views.slice(3)).toEqual(['calc:i2', 'echo:']);
    expect(reads(brokers)).toEqual([]);
  });

  test('site watcher - an instance restarted in place within the hold is passed on as it now is, and unchanged when the hold ends', async () => {
    const { brokers, views } = await withViews();
    brokers.deregister(registration('i1', 'calc'));
    await settle();
    await brokers.register(registration('i1b', 'calc'));
    await settle();
    expect(views.slice(1)).toEqual(['calc:i1b']);
    await vi.advanceTimersByTimeAsync(WITHDRAW_HOLD_MS);
    // The hold ends with the same view (the route table sees no change).
    expect(views.slice(1)).toEqual(['calc:i1b', 'calc:i1b']);
    expect(reads(brokers)).toEqual([]);
  });

  test('site watcher - goings of one service within the hold are passed on once', async () => {
    const { brokers, views } = await withViews();
    await brokers.register(registration('i2', 'calc'));
    await settle();
    brokers.deregister(registration('i1', 'calc'));
    await vi.advanceTimersByTimeAsync(WITHDRAW_HOLD_MS / 2);
    brokers.deregister(registration('i2', 'calc'));
    await vi.advanceTimersByTimeAsync(WITHDRAW_HOLD_MS * 2);
    expect(views.slice(1)).toEqual(['calc:i1,i2', 'calc:']);
  });

  test('site watcher - a going held back when the copy is dropped is looked up instead', async () => {
    const { brokers, views } = await withViews();
    brokers.deregister(registration('i1', 'calc'));
    // A link state change (here a repeated "up") drops the copy; the hold then ends.
    brokers.linkState('up');
    await vi.advanceTimersByTimeAsync(WITHDRAW_HOLD_MS + 10);
    expect(reads(brokers)).toEqual(['lookup calc']);
    expect(views.slice(1)).toEqual(['calc:']);
  });

  test('site watcher - events during a refresh the broker answers unchanged are applied to the copy', async () => {
    const { brokers, views, answers } = await withViews(true);
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    expect(answers).toHaveLength(1);
    await brokers.register(registration('i2', 'calc'));
    await settle();
    answers.shift()!();
    await settle();
    expect(views.slice(1)).toEqual(['calc:i1,i2']);
    expect(answers).toEqual([]);
  });

  test('site watcher - a forged event heard during a refresh answered unchanged is undone by the next one', async () => {
    await forgedDuringRead(() => vi.advanceTimersByTimeAsync(TIMINGS.refreshMs), 'calc:i1,fake');
  });

  test('site watcher - a refresh answered unchanged when the copy was dropped brings a full read', async () => {
    const { brokers, views } = await withViews();
    brokers.linkState('up');
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    await settle();
    expect(reads(brokers)).toEqual(['list', 'list']);
    expect(views.slice(1)).toEqual(['full:i1']);
  });

  test('site watcher - a broker that answers unchanged to a listing asked whole (no copy held) is asked again a heartbeat later, not at once', async () => {
    const { brokers, views } = await withViews();
    const list = brokers.list.bind(brokers);
    brokers.list = async (timeoutMs) => ({
      ...(await list(timeoutMs)),
      services: [],
      unchanged: true,
    });
    // A reconnection drops the copy; the refresh answered unchanged then asks for the whole.
    brokers.linkState('up');
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    await settle();
    expect(reads(brokers)).toEqual(['list', 'list']);
    // Then about one listing a heartbeat (asking again at once would make thousands).
    for (let window = 0; window < 2; window++) {
      await vi.advanceTimersByTimeAsync(5 * TIMINGS.heartbeatMs);
      const made = reads(brokers);
      expect(made.length).toBeGreaterThanOrEqual(4);
      expect(made.length).toBeLessThanOrEqual(6);
    }
    expect(views).toEqual(['full:i1']);
  });

  test('site watcher - a full read that fails loses the events heard meanwhile, and the copy with them', async () => {
    const { brokers, views, answers } = await withViews(true);
    brokers.available = false;
    brokers.brokerEvent('started');
    await settle();
    brokers.raise({
      kind: 'up',
      service: 'calc',
      id: 'i2',
      site: 'a',
      view: instanceView('i2', { service: 'calc' }),
    });
    brokers.available = true;
    answers.shift()!();
    await settle();
    reads(brokers);
    brokers.raise({
      kind: 'up',
      service: 'calc',
      id: 'i3',
      site: 'a',
      view: instanceView('i3', { service: 'calc' }),
    });
    await settle();
    expect(reads(brokers)).toEqual(['lookup calc']);
    answers.shift()!();
    await settle();
    expect(views.slice(1)).toEqual(['calc:i1']);
  });

  test('site watcher - more events during a full read than it keeps bring another full read', async () => {
    const { brokers, views, answers } = await withViews(true);
    brokers.brokerEvent('started');
    await settle();
    for (let i = 0; i <= MAX_REPLAYED_EVENTS; i++)
      await brokers.register(registration(`r${i}`, 'calc'));
    answers.shift()!();
    await settle();
    expect(answers).toHaveLength(1);
    answers.shift()!();
    await settle();
    expect(views.at(-1)?.split(',')).toHaveLength(MAX_REPLAYED_EVENTS + 2);
  });

  test('site watcher - views of more bytes during a full read than it keeps bring another full read', async () => {
    const { brokers, views, answers } = await withViews(true, roomyBrokers());
    brokers.brokerEvent('started');
    await settle();
    const metadata = { blob: 'x'.repeat(1 << 20) };
    // 16 views of a little over 1 MiB each: the last does not fit.
    for (let i = 0; i < 16; i++)
      await brokers.register(registration(`r${i}`, 'calc', { metadata }));
    answers.shift()!();
    await settle();
    expect(answers).toHaveLength(1);
    answers.shift()!();
    await settle();
    expect(answers).toEqual([]);
    // The first listing with the 15 views kept, then the second with all 16.
    expect(views.slice(1).map((v) => v.split(',').length)).toEqual([16, 17]);
  });

  test('site watcher - views adding up to exactly the bytes it keeps during a full read bring no other read', async () => {
    const { brokers, views, answers } = await withViews(true, roomyBrokers());
    brokers.brokerEvent('started');
    await settle();
    const bare = instanceView('r00', { service: 'calc', methods: ['m'] });
    const blob = blobFilling(bare, MAX_BYTES_ADDED_BY_EVENTS / 16);
    for (let i = 0; i < 16; i++) {
      const id = `r${String(i).padStart(2, '0')}`;
      await brokers.register(registration(id, 'calc', { metadata: { blob } }));
    }
    answers.shift()!();
    await settle();
    expect(answers).toEqual([]);
    expect(views.at(-1)?.split(',')).toHaveLength(17);
  });

  test('site watcher - only an instance hosted at the site is held: a route going is passed on at once', async () => {
    const { brokers, views } = await withViews();
    const route = registration('r1', 'calc', { route: { site: 'c', path: ['c'] } });
    await brokers.register(route);
    await settle();
    brokers.deregister(route);
    await settle();
    expect(views.slice(1)).toEqual(['calc:i1,r1', 'calc:i1']);
  });

  test('site watcher - close drops the goings held back', async () => {
    const { brokers, watcher, views } = await withViews();
    brokers.deregister(registration('i1', 'calc'));
    watcher.close();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(WITHDRAW_HOLD_MS);
    expect(views).toEqual(['full:i1']);
  });

  test('site watcher - an event without the instance is still looked up', async () => {
    const { brokers, views } = await withViews();
    brokers.sendsViews = false;
    await brokers.register(registration('i2', 'calc'));
    await settle();
    expect(views.slice(1)).toEqual(['calc:i1,i2']);
    expect(reads(brokers)).toEqual(['lookup calc']);
    brokers.sendsViews = true;
    brokers.deregister(registration('i2', 'calc'));
    await vi.advanceTimersByTimeAsync(WITHDRAW_HOLD_MS + 10);
    expect(views.slice(2)).toEqual(['calc:i1']);
    expect(reads(brokers)).toEqual([]);
  });

  test('site watcher - a lookup answered with only the instances that fitted is not used: a full read follows a heartbeat later', async () => {
    const { brokers, views } = await truncating();
    await brokers.register(registration('i2', 'calc'));
    await brokers.register(registration('j1', 'echo'));
    await settle();
    // Neither partial answer is kept or passed on.
    expect(reads(brokers)).toEqual(['lookup calc', 'lookup echo']);
    expect(views).toHaveLength(1);
    // More such events meanwhile are not looked up again, and bring no other full read.
    await brokers.register(registration('i3', 'calc'));
    await settle();
    expect(reads(brokers)).toEqual([]);
    await vi.advanceTimersByTimeAsync(TIMINGS.heartbeatMs - 30);
    expect(reads(brokers)).toEqual([]);
    await vi.advanceTimersByTimeAsync(30);
    expect(reads(brokers)).toEqual(['list']);
    expect(views.slice(1)).toEqual(['full:i1,i2,i3,j1']);
    await vi.advanceTimersByTimeAsync(TIMINGS.heartbeatMs * 3);
    expect(reads(brokers)).toEqual([]);
  });

  test('site watcher - a full read for another reason is the one a truncated lookup was waiting for', async () => {
    const { brokers, views } = await truncating();
    await brokers.register(registration('i2', 'calc'));
    await settle();
    expect(reads(brokers)).toEqual(['lookup calc']);
    brokers.brokerEvent('started');
    await settle();
    expect(reads(brokers)).toEqual(['list']);
    expect(views.at(-1)).toBe('full:i1,i2');
    await vi.advanceTimersByTimeAsync(TIMINGS.heartbeatMs * 2);
    expect(reads(brokers)).toEqual([]);
    // Read whole, the service is looked up again at its next event.
    await brokers.register(registration('i3', 'calc'));
    await settle();
    expect(reads(brokers)).toEqual(['lookup calc']);
  });

  test('site watcher - events heard during a full read are applied on top of it', async () => {
    const { brokers, views, answers } = await withViews(true);
    brokers.brokerEvent('started');
    await settle();
    expect(answers).toHaveLength(1);
    // The listing under way was taken before these.
    await brokers.register(registration('i2', 'calc'));
    brokers.deregister(registration('i1', 'calc'));
    await settle();
    answers.shift()!();
    await settle();
    expect(views.slice(1)).toEqual(['full:i2']);
    expect(answers).toEqual([]);
  });

  test('site watcher - after a link change the copy is read whole again before events apply to it', async () => {
    const { brokers, views } = await withViews();
    brokers.linkState('down');
    brokers.linkState('up');
    await brokers.register(registration('i2', 'calc'));
    await settle();
    expect(reads(brokers)).toEqual(['list']);
    expect(views.slice(1)).toEqual(['lost', 'full:i1,i2']);
    await brokers.register(registration('i3', 'calc'));
    await settle();
    expect(views.at(-1)).toBe('calc:i1,i2,i3');
    expect(reads(brokers)).toEqual([]);
  });

  test('site watcher - more goings of unknown instances during a full read than it keeps bring another full read', async () => {
    const { brokers, answers } = await withViews(true);
    brokers.brokerEvent('started');
    await settle();
    // Goings add nothing to the copy: only the bound on kept events stops them.
    for (let i = 0; i <= MAX_REPLAYED_EVENTS; i++)
      brokers.raise({ kind: 'down', service: 'calc', id: `gone${i}`, site: 'a' });
    answers.shift()!();
    await settle();
    expect(answers).toHaveLength(1);
  });

  test('site watcher - the going of an instance the copy does not hold changes nothing, and is not news', async () => {
    const { brokers, views } = await withViews();
    brokers.raise({ kind: 'down', service: 'ghost', id: 'nobody', site: 'a' });
    brokers.raise({ kind: 'down', service: 'calc', id: 'nobody', site: 'a' });
    await vi.advanceTimersByTimeAsync(WITHDRAW_HOLD_MS + 10);
    expect(views).toEqual(['full:i1']);
    expect(reads(brokers)).toEqual([]);
    // Nor does it make the next refresh, which the broker answers unchanged, read the registry whole.
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    expect(reads(brokers)).toEqual(['list']);
    expect(views).toEqual(['full:i1']);
  });

  test('site watcher - an instance hosted here registering again with a change is passed on at once, not held', async () => {
    const { brokers, views } = await withViews();
    await brokers.register(registration('i1', 'calc', { methods: ['m', 'n'] }));
    await settle();
    expect(views.slice(1)).toEqual(['calc:i1']);
  });

  test('site watcher - a lookup no broker answered keeps the copy: events still apply to it until the full read', async () => {
    const { brokers, views } = await withViews();
    brokers.sendsViews = false;
    await brokers.register(registration('i2', 'calc'));
    // Its lookup, a moment later, finds no broker.
    brokers.available = false;
    await settle();
    expect(reads(brokers)).toEqual(['lookup calc']);
    brokers.available = true;
    brokers.sendsViews = true;
    await brokers.register(registration('i3', 'calc'));
    await settle();
    // From the copy, which missed i2 (its lookup failed), with no read.
    expect(views.slice(1)).toEqual(['calc:i1,i3']);
    expect(reads(brokers)).toEqual([]);
    await vi.advanceTimersByTimeAsync(TIMINGS.heartbeatMs);
    expect(views.at(-1)).toBe('full:i1,i2,i3');
  });

  test('site watcher - a forged event heard during a full read is undone by the next refresh', async () => {
    await forgedDuringRead(async (brokers) => {
      brokers.brokerEvent('started');
      await settle();
    }, 'full:i1,fake');
  });
});

describe('site watcher - untrusted events', () => {
  test('site watcher - a forged event lasts until the next refresh: after events that did not follow on, the refresh lists the registry whole', async () => {
    const brokers = new MemoryBrokerClient('a');
    brokers.sendsViews = true;
    await brokers.register(registration('i1', 'calc'));
    const { views } = watching(brokers);
    await settle();
    brokers.raise(forged('fake'));
    await settle();
    expect(views).toEqual(['full:i1', 'calc:i1,fake']);
    reads(brokers);
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    await settle();
    expect(reads(brokers)).toEqual(['list']);
    expect(views.at(-1)).toBe('full:i1');
    // Read whole, the copy is the listing again: the next refresh is answered unchanged.
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    expect(reads(brokers)).toEqual(['list']);
    expect(views).toHaveLength(3);
  });

  test('site watcher - forged events past the copy bound drop it for a full read, which they do not survive', async () => {
    const brokers = new MemoryBrokerClient('a');
    const { views } = watching(brokers);
    await settle();
    reads(brokers);
    for (let i = 0; i <= MAX_ADDED_BY_EVENTS; i++) brokers.raise(forged(`f${i}`));
    await settle();
    expect(reads(brokers)).toEqual(['list']);
    expect(views.at(-1)).toBe('full:');
  });

  test('site watcher - events adding more instances than a copy takes bring a full read instead', async () => {
    const brokers = new MemoryBrokerClient('a');
    brokers.sendsViews = true;
    const { views } = watching(brokers);
    await settle();
    reads(brokers);
    for (let i = 0; i < MAX_ADDED_BY_EVENTS; i++)
      await brokers.register(registration(`r${i}`, 'calc'));
    await settle();
    expect(reads(brokers)).toEqual([]);
    expect(views).toHaveLength(2);
    await brokers.register(registration('one-more', 'calc'));
    await settle();
    expect(reads(brokers)).toEqual(['list']);
    expect(views).toHaveLength(3);
    expect(views[2]?.startsWith('full:')).toBe(true);
    expect(views[2]?.split(',')).toHaveLength(MAX_ADDED_BY_EVENTS + 1);
  });
});

describe('site watcher - registry generations', () => {
  /**
   * A watcher over brokers that send views and generations (or not, with
   * `generations` false), its first full view in; `answered` says how each
   * later listing was answered.
   */
  async function following(generations = true) {
    const brokers = new MemoryBrokerClient('a');
    brokers.sendsViews = true;
    brokers.sendsGenerations = generations;
    const answered: string[] = [];
    const list = brokers.list.bind(brokers);
    brokers.list = async (timeoutMs, unless) => {
      const listing = await list(timeoutMs, unless);
      answered.push(listing.unchanged ? 'unchanged' : 'listed');
      return listing;
    };
    await brokers.register(registration('i1', 'calc'));
    const watched = watching(brokers);
    await settle();
    expect(answered).toEqual(['listed']);
    answered.length = 0;
    return { ...watched, answered };
  }

  /** Changes heard in full: an instance, a going held back, the half's own route. */
  async function changes(brokers: MemoryBrokerClient) {
    await brokers.register(registration('i2', 'calc'));
    brokers.deregister(registration('i1', 'calc'));
    await brokers.register(registration('own-r1', 'echo'));
    await vi.advanceTimersByTimeAsync(WITHDRAW_HOLD_MS + 10);
  }

  test('site watcher - a refresh after changes heard in full is answered unchanged: the registry is not listed again', async () => {
    const { brokers, views, answered } = await following();
    await changes(brokers);
    expect(views.slice(1)).toEqual(['calc:i2', 'calc:i2']);
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    await settle();
    expect(answered).toEqual(['unchanged']);
    expect(views).toHaveLength(3);
  });

  test('site watcher - without generations, the same refresh lists the registry again', async () => {
    const { brokers, views, answered } = await following(false);
    await changes(brokers);
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    await settle();
    expect(answered).toEqual(['listed']);
    expect(views.at(-1)).toBe('full:i2,own-r1');
  });

  test('site watcher - an event showing a missed one brings a full read a heartbeat later', async () => {
    const { brokers, views, answered } = await following();
    // Registered without its event reaching the watcher: the next event skips a generation.
    seed(brokers, 'lost', 'calc');
    await brokers.register(registration('j1', 'echo'));
    await settle();
    expect(views.at(-1)).toBe('echo:j1');
    await vi.advanceTimersByTimeAsync(TIMINGS.heartbeatMs - 20);
    expect(answered).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    await settle();
    expect(answered).toEqual(['listed']);
    expect(views.at(-1)).toBe('full:i1,lost,j1');
  });

  /** {@link following}, then a forged `up` claiming to take the registry `step` generations on. */
  async function forgedFollowing(step = 1) {
    const watched = await following();
    const at = watched.brokers.registry.generation;
    watched.brokers.raise({
      ...forged('fake'),
      since: `memory.${at}`,
      generation: `memory.${at + step}`,
    });
    await settle();
    expect(watched.views.at(-1)).toBe('calc:i1,fake');
    return watched;
  }

  test('site watcher - a forged event claiming to follow on is found out by the next real one: a full read a heartbeat later', async () => {
    const { brokers, views, answered } = await forgedFollowing();
    // The broker's own next change is, to the watcher, one it is already past.
    await brokers.register(registration('i2', 'calc'));
    await vi.advanceTimersByTimeAsync(TIMINGS.heartbeatMs);
    await settle();
    expect(answered).toEqual(['listed']);
    expect(views.at(-1)).toBe('full:i1,i2');
  });

  test('site watcher - a forged event that does not move the generation on is not followed: the next refresh lists the registry whole', async () => {
    const { views, answered } = await forgedFollowing(0);
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    await settle();
    expect(answered).toEqual(['listed']);
    expect(views.at(-1)).toBe('full:i1');
  });

  test('site watcher - a forged event claiming to follow on, with no change after it, is undone by the next refresh', async () => {
    const { views, answered } = await forgedFollowing();
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    await settle();
    expect(answered).toEqual(['listed']);
    expect(views.at(-1)).toBe('full:i1');
  });

  test('site watcher - events of a full read that the listing already held are not applied again; later ones are followed', async () => {
    const brokers = new MemoryBrokerClient('a');
    brokers.sendsViews = true;
    brokers.sendsGenerations = true;
    // Listings made when answered by hand (not when asked), as a broker busy with the changes would.
    const answers: Array<() => void> = [];
    const list = brokers.list.bind(brokers);
    brokers.list = (timeoutMs, unless) =>
      new Promise((resolve) => answers.push(() => resolve(list(timeoutMs, unless))));
    const { views } = watching(brokers);
    await settle();
    // The registry changes while the listing is on its way: its events arrive before it,
    // and the listing holds them.
    await brokers.register(registration('i1', 'calc'));
    await brokers.register(registration('i2', 'calc'));
    brokers.deregister(registration('i1', 'calc'));
    answers.shift()!();
    await settle();
    expect(views).toEqual(['full:i2']);
    // Events the listing held are no sign of a missed one: no full read follows.
    await vi.advanceTimersByTimeAsync(TIMINGS.heartbeatMs);
    expect(answers).toEqual([]);
    await vi.advanceTimersByTimeAsync(TIMINGS.refreshMs);
    answers.shift()!();
    await settle();
    // Skipped, not applied as unconfirmed: the refresh is answered unchanged, no view.
    expect(views).toEqual(['full:i2']);
    expect(answers).toEqual([]);
  });
});
