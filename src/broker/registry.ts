import {
  compareVersions,
  ErrorCode,
  type InstanceRegistration,
  type InstanceView,
  parseRange,
  type ServiceView,
  type SessionRenewal,
  SwitchboardError,
  viewSize,
} from '../protocol/index.js';
import { closest, getOrCreate } from '../util/index.js';

/** What one broker's registry accepts; each limit refused with a message naming it. */
export interface RegistryLimits {
  /**
   * Instances (and routes) held at once; beyond it registrations are refused
   * with `UNAVAILABLE` until some leave.
   * @default 100000
   */
  maxInstances: number;
  /**
   * Routes that bridges may hold at once, all together (whatever lease
   * session they name, or none); beyond it new routes are refused with
   * `UNAVAILABLE`, so that no linked site, however many sessions it opens,
   * fills the registry and locks out this site's own servers.
   * @default half of `maxInstances` (50000)
   */
  maxBridgeRoutes: number;
  /** Methods one instance may declare. @default 256 */
  maxMethods: number;
  /** Bytes of metadata (keys and values) one instance may carry. @default 4096 */
  maxMetadataBytes: number;
  /** Shortest heartbeat interval accepted, in milliseconds. @default 50 */
  minHeartbeatMs: number;
  /** Longest heartbeat interval accepted, in milliseconds. @default 60000 */
  maxHeartbeatMs: number;
}

/** The defaults of {@link RegistryLimits}. */
export const DEFAULT_REGISTRY_LIMITS: Readonly<RegistryLimits> = Object.freeze({
  maxInstances: 100_000,
  maxBridgeRoutes: 50_000,
  maxMethods: 256,
  maxMetadataBytes: 4096,
  minHeartbeatMs: 50,
  maxHeartbeatMs: 60_000,
});

/** Options of a {@link Registry}. */
export interface RegistryOptions {
  /** Name of the site whose registry this is. */
  site: string;
  /**
   * A lease lasts this many heartbeat intervals.
   * @default 3
   */
  leaseFactor?: number | undefined;
  /** Clock, in milliseconds; tests pass a fake one. @default Date.now */
  now?: () => number;
  /**
   * How long a service whose last instance went away is remembered, so that
   * callers hear `UNAVAILABLE` (known, none live) rather than `SERVICE_NOT_FOUND`.
   * @default 600000
   */
  rememberDepartedMs?: number;
  /** Limits; each one left out keeps its default. */
  limits?: Partial<RegistryLimits> | undefined;
}

/**
 * Shortest time between two `resumed` announcements of one instance. Each
 * announcement within {@link RESUME_QUIET_MS} of the one before doubles the
 * wait for the next, up to {@link MAX_RESUME_INTERVAL_MS}: a holder that keeps
 * saying its connection moved (flapping, or sending it on purpose: one renewal
 * of a lease session announces every route of it) makes the site hear it less
 * and less often.
 */
export const RESUME_INTERVAL_MS = 1000;
/** Longest wait between two `resumed` announcements of one instance. */
export const MAX_RESUME_INTERVAL_MS = 60_000;
/** After this long without an announcement, the wait is {@link RESUME_INTERVAL_MS} again. */
export const RESUME_QUIET_MS = 120_000;

/** A registered instance with its lease and the secret of whoever holds it. */
export interface RegistryEntry {
  readonly view: InstanceView;
  readonly secret: string;
  /** Lease session the entry belongs to (bridges' routes), renewed as a whole. */
  readonly session: string | undefined;
  leaseMs: number;
  expiresAt: number;
  /** Which registration (counted by the registry) last registered or renewed it. */
  registration: number;
  /** When callers were last told that the instance's connection moved (see {@link Registry.resumed}). */
  resumedAt?: number;
  /** How long after {@link resumedAt} they may be told again ({@link RESUME_INTERVAL_MS} when absent). */
  resumeWaitMs?: number;
  /** The lease (its `expiresAt`) for which its holder was last probed (see {@link Registry.overdue}). */
  probedFor?: number;
}

/**
 * Whoever renews entries: a bridge half's lease session, or an instance that
 * heartbeats alone. Each listens on a control subject of its own.
 */
export type LeaseHolder = { session: string } | { service: string; id: string };

/** What a change did, for the registry events a broker publishes. */
export interface RegistryChange {
  kind: 'up' | 'down';
  view: InstanceView;
  /** Why an instance went down: its lease ran out, or it (or the broker) removed it. */
  reason?: 'expired' | 'deregistered';
  /** The {@link Registry.generation} before this change (after the one reported before it). */
  since: number;
  /** The {@link Registry.generation} once this change is made. */
  generation: number;
}

/** What a {@link Registry.renewSession} did, for the broker to publish and answer. */
export interface SessionRenewalOutcome {
  /** The entries the renewal named gone, dropped. */
  changes: RegistryChange[];
  /** Entries of the session whose lease it renewed. */
  renewed: number;
  /** Whether the session's holder must register its routes again. */
  reregister: boolean;
  /**
   * On a `resumed` renewal: the routes of the session callers should be told
   * resumed (see {@link Registry.resumed}); empty otherwise.
   */
  resumed: InstanceView[];
}

/**
 * A lease session that holds more routes than its holder does: the count of
 * registrations when its holder was asked to register them all again; the
 * routes not registered since then are the ones it no longer holds.
 */
type SessionSync = number;

/** One page of a listing: its services, and the cursor of the next page when there is one. */
export interface ListingPage {
  services: ServiceView[];
  next?: string;
}

/** Whoever claims an instance: its id, the service it must belong to, and the secret. */
export interface Claim {
  id: string;
  secret: string;
  /** When given, the instance must be of this service. */
  service?: string;
}

/**
 * The site registry: services and their instances, each held by a lease that
 * heartbeats renew and by the secret of whoever registered it. Pure logic, no
 * NATS: the broker feeds it and publishes the changes it reports. Refusals
 * are thrown as {@link SwitchboardError}s.
 */
export class Registry {
  readonly site: string;
  readonly limits: Readonly<RegistryLimits>;
  readonly #leaseFactor: number;
  readonly #now: () => number;
  readonly #byId = new Map<string, RegistryEntry>();
  readonly #byService = new Map<string, Map<string, RegistryEntry>>();
  /** Entries by lease session. */
  readonly #bySession = new Map<string, Set<RegistryEntry>>();
  /** Lookup results per service, rebuilt lazily after a change. */
  readonly #views = new Map<string, InstanceView[]>();
  /** Lookup results per service and version range, dropped with the service's views. */
  readonly #ranged = new Map<string, Map<string, readonly InstanceView[]>>();
  /** Per service, how many instances each hosting site has. */
  readonly #siteCounts = new Map<string, Map<string, number>>();
  /** Per service, the sites whose last instance of it went away, and when (latest last). */
  readonly #departed = new Map<string, Map<string, number>>();
  readonly #rememberDepartedMs: number;
  /** Every instance in listing order, rebuilt lazily after a change. */
  #sorted: InstanceView[] | undefined;
  #generation = 0;
  /** The generation the last change reported ended at: every change goes from there. */
  #reported = 0;
  /** Registrations so far (new or renewing), to tell which came after a {@link SessionSync}. */
  #registrations = 0;
  /**
   * Sessions holding more routes than their holder says it does, being put
   * right: by session, then by the secret of the holder whose routes they are.
   */
  readonly #syncing = new Map<string, Map<string, SessionSync>>();
  /** Entries by session, then by secret: a sync ends when its secret holds none there. */
  readonly #heldBySecret = new Map<string, Map<string, number>>();
  /** Entries that are routes (registered by bridges), for {@link RegistryLimits.maxBridgeRoutes}. */
  #routes = 0;

  constructor(options: RegistryOptions) {
    this.site = options.site;
    this.#leaseFactor = options.leaseFactor ?? 3;
    this.#now = options.now ?? Date.now;
    this.#rememberDepartedMs = options.rememberDepartedMs ?? 600_000;
    const given = definedOnly(options.limits);
    const maxInstances = given.maxInstances ?? DEFAULT_REGISTRY_LIMITS.maxInstances;
    const maxBridgeRoutes = Math.max(1, Math.floor(maxInstances / 2));
    this.limits = Object.freeze({ ...DEFAULT_REGISTRY_LIMITS, maxBridgeRoutes, ...given });
  }

  /** Number of registered instances. */
  get size(): number {
    return this.#byId.size;
  }

  /** Count of changes so far (instances added, changed or removed): equal counts, equal registries. */
  get generation(): number {
    return this.#generation;
  }

  /** Lease given to an instance that heartbeats every `heartbeatMs`. */
  leaseFor(heartbeatMs: number): number {
    return heartbeatMs * this.#leaseFactor;
  }

  /**
   * Adds or refreshes an instance. Returns the changes to announce: `up` for
   * a new instance (or one whose description changed), preceded by `down` of
   * its old service when it moved to another; none for a plain refresh.
   * Throws `FORBIDDEN` when a live instance with that id is held by another
   * secret, `BAD_REQUEST` past a per-instance limit, `UNAVAILABLE` when full.
   */
  register(reg: InstanceRegistration): RegistryChange[] {
    this.#checkLimits(reg);
    const existing = this.#byId.get(reg.id);
    if (existing && existing.secret !== reg.secret) {
      throw refusal(
        ErrorCode.FORBIDDEN,
        `instance id '${reg.id}' is held by another registrant until its lease ends`,
      );
    }
    if (!existing && this.#byId.size >= this.limits.maxInstances) {
      throw new SwitchboardError(
        ErrorCode.UNAVAILABLE,
        `the registry of site '${this.site}' is full (${this.limits.maxInstances} instances)`,
        { completed: 'no', site: this.site },
      );
    }
    const view = toView(reg, this.site);
    this.#checkRouteRoom(view, existing);
    const leaseMs = this.leaseFor(reg.heartbeatMs);
    const expiresAt = this.#now() + leaseMs;
    const registration = ++this.#registrations;
    if (existing && sameView(existing.view, view) && existing.session === reg.session) {
      existing.leaseMs = leaseMs;
      existing.expiresAt = expiresAt;
      existing.registration = registration;
      return [];
    }
    const changes: RegistryChange[] = [];
    if (existing) {
      this.#remove(existing);
      // Callers of the old service must hear it is gone from there.
      if (existing.view.service !== view.service) {
        changes.push(this.#report('down', existing.view, 'deregistered'));
      }
    }
    const entry: RegistryEntry = {
      view,
      secret: reg.secret,
      session: reg.session,
      leaseMs,
      expiresAt,
      registration,
    };
    this.#byId.set(view.id, entry);
    if (view.hops > 0) this.#routes++;
    if (entry.session !== undefined) {
      getOrCreate(this.#bySession, entry.session, () => new Set()).add(entry);
      const held = getOrCreate(this.#heldBySecret, entry.session, () => new Map());
      held.set(entry.secret, (held.get(entry.secret) ?? 0) + 1);
    }
    getOrCreate(this.#byService, view.service, () => new Map()).set(view.id, entry);
    const counts = getOrCreate(this.#siteCounts, view.service, () => new Map<string, number>());
    counts.set(view.site, (counts.get(view.site) ?? 0) + 1);
    this.#forgetViews(view.service);
    this.#departed.get(view.service)?.delete(view.site);
    changes.push(this.#report('up', view));
    return changes;
  }

  /**
   * Renews the lease of an instance; false when it is unknown (it must
   * re-register). Throws `FORBIDDEN` when the claim does not hold it.
   */
  heartbeat(claim: Claim): boolean {
    const entry = this.#byId.get(claim.id);
    if (!entry) return false;
    this.#authorise(entry, claim);
    entry.expiresAt = this.#now() + entry.leaseMs;
    return true;
  }

  /**
   * A bridge half renews its lease session: first drops the entries of the
   * session it names `gone` (their deregistrations may have been lost), then
   * renews the lease of every other entry of the session registered with the
   * same secret (entries held by another secret are left alone). The half
   * must register its routes again when this registry holds fewer than it
   * renews (it restarted, or missed a registration); when it holds more than
   * the half says it `held`, the others are dropped once it has (see
   * {@link #syncSession}).
   */
  renewSession(renewal: SessionRenewal): SessionRenewalOutcome {
    const { session, secret } = renewal;
    const changes: RegistryChange[] = [];
    for (const id of renewal.gone ?? []) {
      const entry = this.#byId.get(id);
      if (entry?.session !== session || entry.secret !== secret) continue;
      const change = this.deregister(id);
      if (change) changes.push(change);
    }
    const now = this.#now();
    let renewed = 0;
    for (const entry of this.#bySession.get(session) ?? []) {
      if (entry.secret !== secret) continue;
      entry.expiresAt = now + entry.leaseMs;
      renewed++;
    }
    let reregister = renewed < renewal.routes;
    if (renewal.held === undefined || renewed <= renewal.held) {
      this.#endSync(session, secret);
    } else {
      const sync = this.#syncSession(renewal, renewal.held, changes);
      renewed -= sync.dropped;
      reregister ||= sync.ask;
    }
    return { changes, renewed, reregister, resumed: this.#resumeSession(renewal) };
  }

  #endSync(session: string, secret: string): void {
    const bySecret = this.#syncing.get(session);
    bySecret?.delete(secret);
    if (bySecret?.size === 0) this.#syncing.delete(session);
  }

  /** The session's routes to announce resumed, when the renewal says so. */
  #resumeSession({ session, secret, resumed }: SessionRenewal): InstanceView[] {
    if (!resumed) return [];
    const views: InstanceView[] = [];
    const now = this.#now();
    for (const entry of this.#bySession.get(session) ?? []) {
      if (entry.secret === secret && this.#resume(entry, now)) views.push(entry.view);
    }
    return views;
  }

  /**
   * Puts right a session that holds more routes than its holder says it
   * does (`claimed`, the renewal's `held`): routes whose deregistration
   * was lost longer ago than the renewals name them `gone`. Asks the
   * holder to register every route again, then, once as many routes as it
   * holds were registered since, drops the others into `changes`. Asks
   * again while none was.
   */
  #syncSession(
    { session, secret }: SessionRenewal,
    claimed: number,
    changes: RegistryChange[],
  ): { ask: boolean; dropped: number } {
    const since = this.#syncing.get(session)?.get(secret);
    if (since === undefined) {
      getOrCreate(this.#syncing, session, () => new Map()).set(secret, this.#registrations);
      return { ask: true, dropped: 0 };
    }
    const held = [...(this.#bySession.get(session) ?? [])].filter((e) => e.secret === secret);
    const fresh = held.filter((e) => e.registration > since).length;
    // None registered since it was asked: the ask may have been lost.
    if (fresh < claimed) return { ask: fresh === 0, dropped: 0 };
    this.#endSync(session, secret);
    let dropped = 0;
    for (const entry of held) {
      if (entry.registration > since) continue;
      const change = this.deregister(entry.view.id);
      if (change) changes.push(change);
      dropped++;
    }
    return { ask: false, dropped };
  }

  /**
   * An instance (already renewed by its heartbeat) says its connection to
   * NATS moved. Returns its view when callers should be told, at most once
   * per {@link RESUME_INTERVAL_MS} per instance, less often when it keeps
   * saying so (a flapping connection must not flood the site with events);
   * undefined otherwise.
   */
  resumed(id: string): InstanceView | undefined {
    const entry = this.#byId.get(id);
    return entry && this.#resume(entry, this.#now()) ? entry.view : undefined;
  }

  /** Whether callers should hear that `entry` resumed now; if so, remembers when. */
  #resume(entry: RegistryEntry, now: number): boolean {
    const last = entry.resumedAt;
    if (last !== undefined) {
      const wait = entry.resumeWaitMs ?? RESUME_INTERVAL_MS;
      const since = now - last;
      if (since < wait) return false;
      entry.resumeWaitMs =
        since < RESUME_QUIET_MS ? Math.min(wait * 2, MAX_RESUME_INTERVAL_MS) : RESUME_INTERVAL_MS;
    }
    entry.resumedAt = now;
    return true;
  }

  /**
   * Removes an instance at once (a clean stop). Without a claim (the broker's
   * own decision) any instance; with one, only the holder's. Throws
   * `FORBIDDEN` when the claim does not hold it.
   */
  deregister(id: string, claim?: Claim): RegistryChange | undefined {
    const entry = this.#byId.get(id);
    if (!entry) return undefined;
    if (claim) this.#authorise(entry, claim);
    this.#remove(entry);
    return this.#report('down', entry.view, 'deregistered');
  }

  /**
   * The clock's reading now if some instance's lease has run out by then
   * (to pass to {@link expire} once what was already sent has been read),
   * else undefined.
   */
  expiredAsOf(): number | undefined {
    const now = this.#now();
    this.#forgetDeparted(now);
    for (const entry of this.#byId.values()) {
      if (entry.expiresAt <= now) return now;
    }
    return undefined;
  }

  /**
   * Removes every instance whose lease had run out by `asOf` (default: now)
   * and was not renewed since, and reports them.
   */
  expire(asOf?: number): RegistryChange[] {
    const now = this.#now();
    const by = asOf ?? now;
    this.#forgetDeparted(now);
    const removed: RegistryChange[] = [];
    for (const entry of this.#byId.values()) {
      if (entry.expiresAt <= by) {
        this.#remove(entry);
        removed.push(this.#report('down', entry.view, 'expired'));
      }
    }
    return removed;
  }

  /** Forgets the sites that hosted a service longer ago than remembered. */
  #forgetDeparted(now: number): void {
    for (const [service, sites] of this.#departed) {
      for (const [site, at] of sites) {
        if (now - at > this.#rememberDepartedMs) sites.delete(site);
      }
      if (sites.size === 0) this.#departed.delete(service);
    }
  }

  /**
   * Holders silent for two heartbeats and for `probeAfterMs` (no heartbeat,
   * no renewal), before their leases end: each named once per lease, for
   * the broker to ask NATS whether they still listen. At most `limit`.
   * `probeAfterMs` is how long a holder's connection may be away and come
   * back, when its entries must stay.
   */
  overdue(limit: number, probeAfterMs: number): LeaseHolder[] {
    const holders: LeaseHolder[] = [];
    const now = this.#now();
    const sessions = new Set<string>();
    for (const entry of this.#byId.values()) {
      if (holders.length >= limit) break;
      if (entry.probedFor === entry.expiresAt || !this.#isOverdue(entry, now, probeAfterMs)) {
        continue;
      }
      entry.probedFor = entry.expiresAt;
      const { session } = entry;
      if (session === undefined) {
        holders.push({ service: entry.view.service, id: entry.view.id });
      } else if (!sessions.has(session)) {
        sessions.add(session);
        holders.push({ session });
      }
    }
    return holders;
  }

  /**
   * A holder no longer listens (NATS has no subscriber on its control
   * subject: its connection closed): its entries still overdue end now, as
   * their leases would soon. Entries renewed since the probe stay.
   */
  holderGone(holder: LeaseHolder, probeAfterMs: number): RegistryChange[] {
    const now = this.#now();
    const entries =
      'session' in holder
        ? [...(this.#bySession.get(holder.session) ?? [])]
        : [this.#byId.get(holder.id)].filter((e) => e?.view.service === holder.service);
    const removed: RegistryChange[] = [];
    for (const entry of entries) {
      if (!entry || !this.#isOverdue(entry, now, probeAfterMs)) continue;
      this.#remove(entry);
      removed.push(this.#report('down', entry.view, 'expired'));
    }
    return removed;
  }

  /** Silent for two heartbeats and for `probeAfterMs`, its lease not yet over. */
  #isOverdue(entry: RegistryEntry, now: number, probeAfterMs: number): boolean {
    const silentFor = now - (entry.expiresAt - entry.leaseMs);
    const heartbeatMs = entry.leaseMs / this.#leaseFactor;
    return silentFor >= Math.max(2 * heartbeatMs, probeAfterMs) && now < entry.expiresAt;
  }

  /**
   * Site of the last instance of a service that has none left, if that
   * happened recently (see `rememberDepartedMs`).
   */
  departedFrom(service: string): string | undefined {
    if (this.#byService.has(service)) return undefined;
    const sites = this.#departed.get(service);
    return sites ? [...sites.keys()].at(-1) : undefined;
  }

  /**
   * Sites that hosted an instance of `service` recently and host none now
   * (see `rememberDepartedMs`): a caller pinned to one of them hears that
   * the service is down there, not that it does not exist.
   */
  departedSites(service: string): string[] {
    const sites = this.#departed.get(service);
    if (!sites) return [];
    const live = this.#siteCounts.get(service);
    return [...sites.keys()].filter((site) => !live?.has(site));
  }

  /** The registered service whose name is nearest to a mistyped `service`, if one is near. */
  similarService(service: string): string | undefined {
    return closest(service, this.#byService.keys());
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

  /** Every service version with its instances, sorted by name, version, then instance id. */
  list(): ServiceView[] {
    return this.listPage(undefined, Number.POSITIVE_INFINITY).services;
  }

  /**
   * One page of the listing, of about `maxBytes` encoded at most (always at
   * least one instance): the instances after cursor `after`, grouped by
   * service version. A service version may continue on the next page.
   */
  listPage(after: string | undefined, maxBytes: number): ListingPage {
    const sorted = this.#listingOrder();
    let start = 0;
    if (after !== undefined) {
      // The first instance that sorts after the cursor (the cursor's own may have left).
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareCursor(cursorOf(sorted[mid]!), after) <= 0) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const services: ServiceView[] = [];
    let bytes = 0;
    let i = start;
    for (; i < sorted.length; i++) {
      const view = sorted[i]!;
      const size = viewSize(view);
      if (i > start && bytes + size > maxBytes) break;
      bytes += size;
      const last = services.at(-1);
      if (last && last.name === view.service && last.version === view.version) {
        last.instances.push(view);
      } else {
        const methods = view.methods;
        services.push({ name: view.service, version: view.version, methods, instances: [view] });
      }
    }
    if (i >= sorted.length) return { services };
    return { services, next: cursorOf(sorted[i - 1]!) };
  }

  /** Every registered instance. */
  instances(): IterableIterator<InstanceView> {
    return mapIterator(this.#byId.values(), (e) => e.view);
  }

  #checkLimits(reg: InstanceRegistration): void {
    const { limits } = this;
    if (reg.methods.length > limits.maxMethods) {
      throw refusal(
        ErrorCode.BAD_REQUEST,
        `instance '${reg.id}' declares ${reg.methods.length} methods, over the limit of ${limits.maxMethods}`,
      );
    }
    let metadataBytes = 0;
    for (const [k, v] of Object.entries(reg.metadata)) metadataBytes += k.length + v.length;
    if (metadataBytes > limits.maxMetadataBytes) {
      throw refusal(
        ErrorCode.BAD_REQUEST,
        `instance '${reg.id}' carries ${metadataBytes} bytes of metadata, over the limit of ${limits.maxMetadataBytes}`,
      );
    }
    if (reg.heartbeatMs < limits.minHeartbeatMs || reg.heartbeatMs > limits.maxHeartbeatMs) {
      throw refusal(
        ErrorCode.BAD_REQUEST,
        `instance '${reg.id}' heartbeats every ${reg.heartbeatMs} ms; this broker accepts ${limits.minHeartbeatMs} to ${limits.maxHeartbeatMs} ms`,
      );
    }
  }

  /**
   * Refuses a new route when bridges hold their share of the registry
   * already, all of them together: a bridge cannot get more room by naming
   * other sessions, or none.
   */
  #checkRouteRoom(view: InstanceView, existing: RegistryEntry | undefined): void {
    if (view.hops === 0 || (existing !== undefined && existing.view.hops > 0)) return;
    const max = this.limits.maxBridgeRoutes;
    if (this.#routes < max) return;
    throw new SwitchboardError(
      ErrorCode.UNAVAILABLE,
      `bridges hold ${this.#routes} routes in the registry of site '${this.site}', their limit of ${max}`,
      { completed: 'no', site: this.site },
    );
  }

  #authorise(entry: RegistryEntry, claim: Claim): void {
    if (entry.secret !== claim.secret) {
      throw refusal(ErrorCode.FORBIDDEN, `instance '${claim.id}' is held by another registrant`);
    }
    if (claim.service !== undefined && claim.service !== entry.view.service) {
      throw refusal(
        ErrorCode.FORBIDDEN,
        `instance '${claim.id}' belongs to service '${entry.view.service}', not '${claim.service}'`,
      );
    }
  }

  #listingOrder(): InstanceView[] {
    this.#sorted ??= [...this.#byId.values()]
      .map((e) => e.view)
      .sort(
        (a, b) =>
          compareStrings(a.service, b.service) ||
          compareVersions(a.version, b.version) ||
          compareStrings(a.version, b.version) ||
          compareStrings(a.id, b.id),
      );
    return this.#sorted;
  }

  #remove(entry: RegistryEntry): void {
    const { id, service } = entry.view;
    this.#byId.delete(id);
    if (entry.view.hops > 0) this.#routes--;
    if (entry.session !== undefined) {
      const { session, secret } = entry;
      const entries = this.#bySession.get(session);
      entries?.delete(entry);
      if (entries?.size === 0) this.#bySession.delete(session);
      const held = this.#heldBySecret.get(session);
      const left = (held?.get(secret) ?? 1) - 1;
      if (left > 0) {
        held?.set(secret, left);
      } else {
        held?.delete(secret);
        if (held?.size === 0) this.#heldBySecret.delete(session);
        this.#endSync(session, secret);
      }
    }
    const instances = this.#byService.get(service);
    instances?.delete(id);
    if (instances?.size === 0) this.#byService.delete(service);
    const site = entry.view.site;
    const counts = this.#siteCounts.get(service);
    const left = (counts?.get(site) ?? 1) - 1;
    if (left > 0) counts?.set(site, left);
    else counts?.delete(site);
    if (counts?.size === 0) this.#siteCounts.delete(service);
    if (left <= 0) {
      const sites = getOrCreate(this.#departed, service, () => new Map<string, number>());
      // Re-inserted, so that the latest departure is the last key.
      sites.delete(site);
      sites.set(site, this.#now());
    }
    this.#forgetViews(service);
  }

  /** A change just made, to report: from the generation the last one ended at to now. */
  #report(
    kind: RegistryChange['kind'],
    view: InstanceView,
    reason?: RegistryChange['reason'],
  ): RegistryChange {
    const change: RegistryChange = {
      kind,
      view,
      since: this.#reported,
      generation: this.#generation,
    };
    if (reason) change.reason = reason;
    this.#reported = this.#generation;
    return change;
  }

  /** After every change: cached views go, the generation moves on. */
  #forgetViews(service: string): void {
    this.#generation++;
    this.#views.delete(service);
    this.#ranged.delete(service);
    this.#sorted = undefined;
  }
}

const EMPTY: readonly InstanceView[] = Object.freeze([]);
const MAX_RANGES_PER_SERVICE = 64;

/** The instances that fit in `maxBytes` encoded, nearest first; whether some were left out. */
export function fitting(
  instances: readonly InstanceView[],
  maxBytes: number,
): { instances: InstanceView[]; truncated: boolean } {
  let bytes = 0;
  for (const v of instances) bytes += viewSize(v);
  if (bytes <= maxBytes) return { instances: instances as InstanceView[], truncated: false };
  const nearest = [...instances].sort((a, b) => a.hops - b.hops);
  const kept: InstanceView[] = [];
  bytes = 0;
  for (const v of nearest) {
    const size = viewSize(v);
    if (kept.length > 0 && bytes + size > maxBytes) break;
    kept.push(v);
    bytes += size;
  }
  return { instances: kept, truncated: true };
}

function refusal(code: ErrorCode, message: string): SwitchboardError {
  return new SwitchboardError(code, message, { completed: 'no' });
}

/** The listing cursor of an instance: service, version and id (none of which can hold `|`). */
function cursorOf(view: InstanceView): string {
  return `${view.service}|${view.version}|${view.id}`;
}

function compareCursor(a: string, b: string): number {
  const [as = '', av = '', ai = ''] = a.split('|');
  const [bs = '', bv = '', bi = ''] = b.split('|');
  return (
    compareStrings(as, bs) ||
    compareVersions(av, bv) ||
    compareStrings(av, bv) ||
    compareStrings(ai, bi)
  );
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function definedOnly<T extends object>(values: T | undefined): Partial<T> {
  if (!values) return {};
  return Object.fromEntries(
    Object.entries(values).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

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
