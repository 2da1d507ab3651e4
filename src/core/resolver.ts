import { type CallMeta, ErrorCode, SwitchboardError } from '../protocol/index.js';
import type { CandidateSource } from './instance-picker.js';
import type { BrokerClient, Resolution, Unsubscribe } from './types.js';

/**
 * Most resolutions kept: callers choose the services and ranges they ask for
 * (at a bridge, peers of another site), so the oldest go first past this.
 */
export const MAX_CACHED_RESOLUTIONS = 10_000;

interface CacheEntry extends Resolution {
  readonly service: string;
  readonly fetchedAt: number;
  /** Set by a reconnection: kept only as a fallback while no broker answers. */
  readonly stale?: true;
}

/** Options of a {@link Resolver}. */
export interface ResolverOptions {
  /** Longest a resolution is trusted without a registry event. */
  ttlMs: number;
  /** Longest a lookup may take. */
  lookupTimeoutMs: number;
  /**
   * Longest an answer with no instance is trusted: such answers are asked
   * again soon, so that a service coming back is found without waiting for
   * an event (which may have been lost with a link).
   * @default 250
   */
  negativeTtlMs?: number;
  /**
   * Longest an answer with instances is used when no broker answers a fresh
   * lookup (its TTL ran out, or a reconnection made it stale): the site's
   * brokers may be moving to another NATS node or restarting, and the
   * instances may still be where they were. A call sent to one that is gone
   * fails `UNAVAILABLE/no`, as it would have without the answer.
   * @default 30000
   */
  staleIfErrorMs?: number;
  /** Clock, in milliseconds. @default Date.now */
  now?: () => number;
}

/**
 * A cache of the broker's answers: the instances of each service (and
 * version range), kept until a registry event about the service, the TTL or a
 * reconnection says they may be stale. Concurrent callers share one lookup.
 */
export class Resolver implements CandidateSource {
  readonly #brokers: BrokerClient;
  readonly #options: ResolverOptions;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<Resolution>>();
  readonly #stop: Unsubscribe[];
  /** Bumped by every invalidation: a lookup under way when it changes may be stale. */
  #generation = 0;

  constructor(brokers: BrokerClient, options: ResolverOptions) {
    this.#brokers = brokers;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#stop = [
      brokers.onInstanceEvent((event) => {
        if (event.kind !== 'resumed') this.invalidate(event.service);
      }),
      // While disconnected we may have missed registry events: ask again,
      // keeping what we knew in case no broker answers yet.
      brokers.onLinkState((state) => {
        if (state === 'up') this.#markStale();
      }),
    ];
  }

  /** Site of the broker that answered last. */
  get site(): string | undefined {
    return this.#brokers.site;
  }

  /** The cached resolution of a service, if fresh. */
  cached(service: string, range: string | undefined): Resolution | undefined {
    const entry = this.#cache.get(key(service, range));
    if (!entry || entry.stale) return undefined;
    const ttl =
      entry.instances.length > 0 ? this.#options.ttlMs : (this.#options.negativeTtlMs ?? 250);
    if (this.#now() - entry.fetchedAt > ttl) return undefined;
    return entry;
  }

  /**
   * The instances of a service: from the cache, else from the broker. The
   * lookup itself is shared by every caller and waits `lookupTimeoutMs`; a
   * caller whose `timeoutMs` ends first fails alone, with `TIMEOUT`.
   */
  resolve(service: string, range: string | undefined, timeoutMs: number): Promise<Resolution> {
    const hit = this.cached(service, range);
    if (hit) return Promise.resolve(hit);
    const pending = this.#lookup(service, range);
    if (timeoutMs >= this.#options.lookupTimeoutMs) return pending;
    return withinBudget(pending, service, timeoutMs);
  }

  #lookup(service: string, range: string | undefined): Promise<Resolution> {
    const k = key(service, range);
    let pending = this.#inflight.get(k);
    if (!pending) {
      const generation = this.#generation;
      pending = this.#brokers
        .lookup(service, range, this.#options.lookupTimeoutMs)
        .then((resolution) => {
          if (generation === this.#generation) this.#remember(k, { ...resolution, service });
          return resolution;
        })
        .catch((error: unknown) => {
          const fallback = this.#fallback(k);
          if (fallback && isNoBroker(error)) return fallback;
          throw error;
        })
        .finally(() => this.#inflight.delete(k));
      this.#inflight.set(k, pending);
    }
    return pending;
  }

  /** Caches a fresh resolution under `k`, newest last; past the limit the oldest goes. */
  #remember(k: string, entry: Omit<CacheEntry, 'fetchedAt'>): void {
    this.#cache.delete(k);
    if (this.#cache.size >= MAX_CACHED_RESOLUTIONS) {
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
    this.#cache.set(k, { ...entry, fetchedAt: this.#now() });
  }

  /** What was last known of `k`, if it had instances and is not too old to fall back on. */
  #fallback(k: string): Resolution | undefined {
    const entry = this.#cache.get(k);
    if (!entry || entry.instances.length === 0) return undefined;
    const maxAge = this.#options.staleIfErrorMs ?? 30_000;
    return this.#now() - entry.fetchedAt <= maxAge ? entry : undefined;
  }

  /** As a {@link CandidateSource}: the cached answer when there is one, without waiting. */
  candidates(meta: CallMeta, timeoutMs: number): Resolution | Promise<Resolution> {
    return (
      this.cached(meta.service, meta.versionRange) ??
      this.resolve(meta.service, meta.versionRange, timeoutMs)
    );
  }

  /** Drops the cached resolutions of a service. */
  invalidate(service: string): void {
    this.#generation++;
    for (const [k, entry] of this.#cache) if (entry.service === service) this.#cache.delete(k);
  }

  /** Drops one instance found dead from the cached resolutions of its service. */
  forget(service: string, instanceId: string): void {
    for (const [k, entry] of this.#cache) {
      if (entry.service !== service) continue;
      const gone = entry.instances.find((i) => i.id === instanceId);
      if (!gone) continue;
      const instances = entry.instances.filter((i) => i !== gone);
      // With none left (there), callers must still hear that the service exists (UNAVAILABLE).
      const departedFrom = instances.length === 0 ? gone.site : entry.departedFrom;
      const departedSites = instances.some((i) => i.site === gone.site)
        ? entry.departedSites
        : [...(entry.departedSites ?? []), gone.site];
      this.#cache.set(k, { ...entry, instances, departedFrom, departedSites });
    }
  }

  /** Makes every cached answer stale: asked again, used only if no broker answers. */
  #markStale(): void {
    this.#generation++;
    for (const [k, entry] of this.#cache) this.#cache.set(k, { ...entry, stale: true });
  }

  /** Drops everything cached. */
  clear(): void {
    this.#generation++;
    this.#cache.clear();
  }

  /** Stops listening and drops the cache. */
  close(): void {
    for (const stop of this.#stop.splice(0)) stop();
    this.clear();
  }
}

/** `lookup`, or `TIMEOUT` (completion `no`: nothing was sent) once the caller's budget runs out. */
function withinBudget(
  lookup: Promise<Resolution>,
  service: string,
  budgetMs: number,
): Promise<Resolution> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => {
        const message = `deadline passed while locating '${service}' (${Math.max(0, budgetMs)} ms left)`;
        reject(new SwitchboardError(ErrorCode.TIMEOUT, message, { completed: 'no' }));
      },
      Math.max(0, budgetMs),
    );
    lookup.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/** A lookup that failed because no broker answered (`UNAVAILABLE/no`), not one a broker refused. */
function isNoBroker(error: unknown): boolean {
  return (
    error instanceof SwitchboardError &&
    error.code === ErrorCode.UNAVAILABLE &&
    error.completed === 'no'
  );
}

function key(service: string, range: string | undefined): string {
  return range === undefined ? service : `${service}@${range}`;
}
