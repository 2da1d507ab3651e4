import {
  compareVersions,
  type InstanceRegistration,
  type InstanceView,
  parseRange,
  type ServiceView,
} from '../protocol/index.js';
import { getOrCreate } from '../util/index.js';

/** Options of a {@link Registry}. */
export interface RegistryOptions {
  /** Name of the site whose registry this is. */
  site: string;
  /**
   * A lease lasts this many heartbeat intervals.
   * @default 3
   */
  leaseFactor?: number;
  /** Clock, in milliseconds; tests pass a fake one. @default Date.now */
  now?: () => number;
  /**
   * How long a service whose last instance went away is remembered, so that
   * callers hear `UNAVAILABLE` (known, none live) rather than `SERVICE_NOT_FOUND`.
   * @default 600000
   */
  rememberDepartedMs?: number;
}

/** A registered instance with its lease. */
export interface RegistryEntry {
  readonly view: InstanceView;
  leaseMs: number;
  expiresAt: number;
}

/** What a change did, for the registry events a broker publishes. */
export interface RegistryChange {
  kind: 'up' | 'down';
  view: InstanceView;
}

/**
 * The site registry: services and their instances, each held by a lease that
 * heartbeats renew. Pure logic, no NATS: the broker feeds it and publishes the
 * changes it reports.
 */
export class Registry {
  readonly site: string;
  readonly #leaseFactor: number;
  readonly #now: () => number;
  readonly #byId = new Map<string, RegistryEntry>();
  readonly #byService = new Map<string, Map<string, RegistryEntry>>();
  /** Lookup results per service, rebuilt lazily after a change. */
  readonly #views = new Map<string, InstanceView[]>();
  /** Lookup results per service and version range, dropped with the service's views. */
  readonly #ranged = new Map<string, Map<string, readonly InstanceView[]>>();
  /** Services whose last instance went away: the site it was at, and when. */
  readonly #departed = new Map<string, { site: string; at: number }>();
  readonly #rememberDepartedMs: number;

  constructor(options: RegistryOptions) {
    this.site = options.site;
    this.#leaseFactor = options.leaseFactor ?? 3;
    this.#now = options.now ?? Date.now;
    this.#rememberDepartedMs = options.rememberDepartedMs ?? 600_000;
  }

  /** Number of registered instances. */
  get size(): number {
    return this.#byId.size;
  }

  /** Lease given to an instance that heartbeats every `heartbeatMs`. */
  leaseFor(heartbeatMs: number): number {
    return heartbeatMs * this.#leaseFactor;
  }

  /**
   * Adds or refreshes an instance. Returns the change to announce: `up` for a new
   * instance (or one whose description changed), nothing for a plain refresh.
   */
  register(reg: InstanceRegistration): RegistryChange | undefined {
    const existing = this.#byId.get(reg.id);
    const view = toView(reg, this.site);
    const leaseMs = this.leaseFor(reg.heartbeatMs);
    const entry: RegistryEntry = { view, leaseMs, expiresAt: this.#now() + leaseMs };
    if (existing && sameView(existing.view, view)) {
      existing.leaseMs = leaseMs;
      existing.expiresAt = entry.expiresAt;
      return undefined;
    }
    if (existing) this.#remove(existing);
    this.#byId.set(view.id, entry);
    let instances = this.#byService.get(view.service);
    if (!instances) {
      instances = new Map();
      this.#byService.set(view.service, instances);
    }
    instances.set(view.id, entry);
    this.#forgetViews(view.service);
    this.#departed.delete(view.service);
    return { kind: 'up', view };
  }

  /** Renews the lease of an instance; false when it is unknown (it must re-register). */
  heartbeat(id: string): boolean {
    const entry = this.#byId.get(id);
    if (!entry) return false;
    entry.expiresAt = this.#now() + entry.leaseMs;
    return true;
  }

  /** Removes an instance at once (a clean stop). */
  deregister(id: string): RegistryChange | undefined {
    const entry = this.#byId.get(id);
    if (!entry) return undefined;
    this.#remove(entry);
    return { kind: 'down', view: entry.view };
  }

  /** Removes every instance whose lease has run out, and reports them. */
  expire(): RegistryChange[] {
    const now = this.#now();
    for (const [service, departed] of this.#departed) {
      if (now - departed.at > this.#rememberDepartedMs) this.#departed.delete(service);
    }
    const removed: RegistryChange[] = [];
    for (const entry of this.#byId.values()) {
      if (entry.expiresAt <= now) {
        this.#remove(entry);
        removed.push({ kind: 'down', view: entry.view });
      }
    }
    return removed;
  }

  /**
   * Site of the last instance of a service that has none left, if that
   * happened recently (see `rememberDepartedMs`).
   */
  departedFrom(service: string): string | undefined {
    if (this.#byService.has(service)) return undefined;
    return this.#departed.get(service)?.site;
  }

  /** The instance with this id, if registered. */
  get(id: string): InstanceView | undefined {
    return this.#byId.get(id)?.view;
  }

  /**
   * Instances of a service, optionally limited to a version range. The returned
   * array is shared and must not be modified.
   */
  lookup(service: string, versionRange?: string): readonly InstanceView[] {
    let views = this.#views.get(service);
    if (!views) {
      const instances = this.#byService.get(service);
      if (!instances) return EMPTY;
      views = [...instances.values()].map((e) => e.view);
      this.#views.set(service, views);
    }
    if (versionRange === undefined || versionRange === '*' || versionRange === '') return views;
    const byRange = getOrCreate(this.#ranged, service, () => new Map());
    let matching = byRange.get(versionRange);
    if (!matching) {
      const range = parseRange(versionRange);
      matching = range ? views.filter((v) => range.test(v.version)) : EMPTY;
      // Ranges come from callers: keep a bounded number per service.
      if (byRange.size >= MAX_RANGES_PER_SERVICE) byRange.clear();
      byRange.set(versionRange, matching);
    }
    return matching;
  }

  /** Every service version with its instances, sorted by name then version. */
  list(): ServiceView[] {
    const services = new Map<string, ServiceView>();
    for (const { view } of this.#byId.values()) {
      const key = `${view.service}@${view.version}`;
      let service = services.get(key);
      if (!service) {
        service = {
          name: view.service,
          version: view.version,
          methods: view.methods,
          instances: [],
        };
        services.set(key, service);
      }
      service.instances.push(view);
    }
    return [...services.values()].sort(
      (a, b) => a.name.localeCompare(b.name) || compareVersions(a.version, b.version),
    );
  }

  /** Every registered instance. */
  instances(): IterableIterator<InstanceView> {
    return mapIterator(this.#byId.values(), (e) => e.view);
  }

  #remove(entry: RegistryEntry): void {
    const { id, service } = entry.view;
    this.#byId.delete(id);
    const instances = this.#byService.get(service);
    instances?.delete(id);
    if (instances?.size === 0) {
      this.#byService.delete(service);
      this.#departed.set(service, { site: entry.view.site, at: this.#now() });
    }
    this.#forgetViews(service);
  }

  #forgetViews(service: string): void {
    this.#views.delete(service);
    this.#ranged.delete(service);
  }
}

const EMPTY: readonly InstanceView[] = Object.freeze([]);
const MAX_RANGES_PER_SERVICE = 64;

function toView(reg: InstanceRegistration, site: string): InstanceView {
  const path = reg.route?.path ?? [];
  return {
    id: reg.id,
    service: reg.service,
    version: reg.version,
    methods: reg.methods,
    metadata: reg.metadata,
    site: reg.route?.site ?? site,
    path,
    hops: path.length,
  };
}

function sameView(a: InstanceView, b: InstanceView): boolean {
  return (
    a.service === b.service &&
    a.version === b.version &&
    a.site === b.site &&
    a.path.join(',') === b.path.join(',') &&
    a.methods.join(',') === b.methods.join(',') &&
    JSON.stringify(a.metadata) === JSON.stringify(b.metadata)
  );
}

function* mapIterator<T, U>(it: Iterable<T>, fn: (t: T) => U): IterableIterator<U> {
  for (const t of it) yield fn(t);
}
