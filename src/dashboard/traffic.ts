/**
 * Calls and errors per link direction and per service, from successive
 * `$SRV.STATS` looks at the endpoints (instances and routes) of one site:
 * each look is compared with the one before, the differences are kept for a
 * window of seconds, and rates are their sums over it. Pure: the caller gives
 * the replies, the listing they are joined to, and the time.
 */
import { NAME_PATTERN } from '../protocol/index.js';
import { OTHER_PATHS } from '../transport/index.js';
import { getOrCreate } from '../util/index.js';
import type { RecentError } from './snapshot.js';
import {
  type CheckedStatsData,
  type EndpointCounts,
  type StatsReply,
  UNKNOWN_CODE,
} from './stats-reply.js';
import { directionKey, hopsOf, type KnownEndpoint, linkKey, type Topology } from './topology.js';

/** Recent errors kept. */
export const MAX_RECENT_ERRORS = 50;

type Counts = Map<string, number>;

/** What the differences of one look add up to. */
interface Tally {
  at: number;
  /** By direction key (`a→b`). */
  directions: Counts;
  /** By link key, then code. */
  linkErrors: Map<string, Counts>;
  /** By `service@site`. */
  serviceCalls: Counts;
  /** By `service@site`, then code. */
  serviceErrors: Map<string, Counts>;
}

/** Rates over the window, per second. */
export interface TrafficRates {
  directions: Counts;
  linkErrors: Map<string, Counts>;
  serviceCalls: Counts;
  serviceErrors: Map<string, Counts>;
}

interface Last {
  requests: number;
  errors: number;
  data: CheckedStatsData | undefined;
}

/** Counts what crosses the observer's site, look after look. */
export class TrafficMeter {
  readonly #windowMs: number;
  readonly #last = new Map<string, Last>();
  #tallies: Tally[] = [];
  #errors: RecentError[] = [];
  #since: number | undefined;

  /** @param windowMs how far back rates look */
  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /**
   * Takes in one look: the stats replies of the site's endpoints at `now`,
   * joined by id to the endpoints of `topology` (a reply for an id the
   * listing does not hold is not ours to count). The first look only sets
   * the counts the next ones are compared with.
   */
  record(replies: readonly StatsReply[], topology: Topology, now: number): void {
    const first = this.#since === undefined;
    this.#since ??= now;
    const tally: Tally = {
      at: now,
      directions: new Map(),
      linkErrors: new Map(),
      serviceCalls: new Map(),
      serviceErrors: new Map(),
    };
    for (const reply of replies) {
      const endpoint = topology.endpoints.get(reply.id);
      if (!endpoint || endpoint.service !== reply.service) continue;
      for (const counts of reply.endpoints) {
        const key = `${reply.id} ${counts.name}`;
        const before = this.#last.get(key);
        this.#last.set(key, {
          requests: counts.requests,
          errors: counts.errors,
          data: counts.data,
        });
        // A count that went down belongs to an endpoint that started again: all of it is new.
        const base = first || !before || counts.requests < before.requests ? undefined : before;
        if (first) {
          if (counts.errors > 0) this.#noteError(endpoint, counts, counts.errors, topology, now);
          continue;
        }
        this.#add(tally, endpoint, counts, base, topology);
        const errors = counts.errors - (base?.errors ?? 0);
        if (errors > 0) this.#noteError(endpoint, counts, errors, topology, now);
      }
    }
    for (const key of this.#last.keys()) {
      if (!topology.endpoints.has(key.slice(0, key.indexOf(' ')))) this.#last.delete(key);
    }
    if (!first) this.#tallies.push(tally);
    this.#tallies = this.#tallies.filter((t) => t.at > now - this.#windowMs);
  }

  /** Rates per second over the window ending at `now`. */
  rates(now: number): TrafficRates {
    const rates: TrafficRates = {
      directions: new Map(),
      linkErrors: new Map(),
      serviceCalls: new Map(),
      serviceErrors: new Map(),
    };
    const seconds = Math.max(1, Math.min(this.#windowMs, now - (this.#since ?? now)) / 1000);
    for (const tally of this.#tallies) {
      if (tally.at <= now - this.#windowMs) continue;
      addAll(rates.directions, tally.directions, 1 / seconds);
      addAll(rates.serviceCalls, tally.serviceCalls, 1 / seconds);
      addNested(rates.linkErrors, tally.linkErrors, 1 / seconds);
      addNested(rates.serviceErrors, tally.serviceErrors, 1 / seconds);
    }
    return rates;
  }

  /** The latest errors, newest first. */
  recentErrors(): RecentError[] {
    return [...this.#errors];
  }

  /** Adds the differences of one endpoint to `tally`. */
  #add(
    tally: Tally,
    endpoint: KnownEndpoint,
    counts: EndpointCounts,
    base: Last | undefined,
    topology: Topology,
  ): void {
    const calls = counts.requests - (base?.requests ?? 0);
    const errors = counts.errors - (base?.errors ?? 0);
    if (calls <= 0 && errors <= 0) return;
    const service = `${endpoint.service}@${endpoint.site}`;
    add(tally.serviceCalls, service, calls);
    const byCode = counts.data
      ? difference(counts.data.errorsByCode, base?.data?.errorsByCode)
      : new Map(errors > 0 ? [[UNKNOWN_CODE, errors]] : []);
    addAll(getMap(tally.serviceErrors, service), byCode, 1);
    const byPath = counts.data
      ? difference(counts.data.callsByPath, base?.data?.callsByPath)
      : new Map([[OTHER_PATHS, calls]]);
    for (const [path, n] of byPath) {
      for (const [from, to] of hopsOf(traversal(path, endpoint, topology.site))) {
        add(tally.directions, directionKey(from, to), n);
      }
    }
    if (endpoint.kind === 'route' && byCode.size > 0) {
      for (const [x, y] of hopsOf([topology.site, ...endpoint.path])) {
        addAll(getMap(tally.linkErrors, linkKey(x, y)), byCode, 1);
      }
    }
  }

  #noteError(
    endpoint: KnownEndpoint,
    counts: EndpointCounts,
    count: number,
    topology: Topology,
    now: number,
  ): void {
    const { data } = counts;
    const path = data?.lastErrorPath?.split(',');
    this.#errors.unshift({
      at: now,
      service: endpoint.service,
      method: counts.name,
      code: data?.lastErrorCode ?? UNKNOWN_CODE,
      message: counts.lastError,
      origin:
        data?.lastErrorSite && NAME_PATTERN.test(data.lastErrorSite)
          ? data.lastErrorSite
          : endpoint.kind === 'instance'
            ? topology.site
            : endpoint.site,
      path: path && areNames(path) ? path : null,
      count,
      via: endpoint.kind,
    });
    this.#errors.length = Math.min(this.#errors.length, MAX_RECENT_ERRORS);
  }
}

/**
 * The sites a call crossed, in order, from the PATH it arrived with (origin
 * first, ending here) and, for a route, the route's path on from here. When
 * the PATH is not known, a call on a route is taken to start here; a call to
 * an instance here then crossed nothing that can be told.
 */
function traversal(path: string, endpoint: KnownEndpoint, here: string): string[] {
  const arrived = path === OTHER_PATHS ? [] : path.split(',');
  if (!areNames(arrived)) return [];
  if (arrived.at(-1) !== here) arrived.push(here);
  if (endpoint.kind === 'instance') return path === OTHER_PATHS ? [] : arrived;
  return [...arrived, ...endpoint.path];
}

function areNames(sites: readonly string[]): boolean {
  return sites.every((site) => NAME_PATTERN.test(site));
}

/** `now − before` per key; a key whose count went down counts whole (it started again). */
function difference(now: Counts, before: Counts | undefined): Counts {
  const diff: Counts = new Map();
  for (const [key, n] of now) {
    const was = before?.get(key) ?? 0;
    const d = n >= was ? n - was : n;
    if (d > 0) diff.set(key, d);
  }
  return diff;
}

function add(counts: Counts, key: string, n: number): void {
  if (n > 0) counts.set(key, (counts.get(key) ?? 0) + n);
}

function addAll(into: Counts, from: Counts, factor: number): void {
  for (const [key, n] of from) add(into, key, n * factor);
}

function addNested(into: Map<string, Counts>, from: Map<string, Counts>, factor: number): void {
  for (const [key, counts] of from) addAll(getMap(into, key), counts, factor);
}

function getMap(maps: Map<string, Counts>, key: string): Counts {
  return getOrCreate(maps, key, () => new Map());
}
