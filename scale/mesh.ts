/**
 * A whole mesh on this machine: the NATS servers (one shared by every site
 * through distinct subject prefixes, or one per site), a broker per site,
 * a bridge per link (its remote side through a {@link LinkCutter}, so the
 * link can go down), and servers for the services each site hosts. Every
 * component gets a connection the mesh opened, so that it can count what
 * each site's components send. All in this process, or (`processes`) each
 * site's broker and the bridges whose local side it is in a process of
 * their own ({@link ChildSite}); servers and clients stay here.
 */
import type { NatsConnection } from 'nats';
import {
  Bridge,
  Broker,
  Client,
  type InstanceView,
  type Logger,
  openNatsConnection,
  type ServerProxy,
  serve,
  silentLogger,
} from '../src/internal.js';
import { type NatsServerHandle, startNatsServer } from '../src/testing/index.js';
import { type CheckResult, checkMesh, converged, type MeshSnapshot } from './checks.js';
import type { WatchedSite } from './control-monitor.js';
import { LinkCutter } from './link-cutter.js';
import { RegistryClock } from './registry-clock.js';
import { ChildSite, type SiteRegistry } from './site-child.js';
import { brokerTimings, type PlacedBridge } from './site-process.js';
import type { Link, Topology } from './topology.js';

/** How the sites get their NATS. */
export const NATS_MODES = ['shared', 'per-site'] as const;
export type NatsMode = (typeof NATS_MODES)[number];

/** Timings given to the components (library defaults when absent). */
export interface MeshTimings {
  /** Heartbeat interval of the servers. */
  serverHeartbeatMs?: number | undefined;
  /** Heartbeat interval of the bridges' routes. */
  bridgeHeartbeatMs?: number | undefined;
  /** Full resynchronisation period of the bridges. */
  refreshMs?: number | undefined;
  /** Leases last this many heartbeat intervals at every broker. */
  leaseFactor?: number | undefined;
  /** The brokers' `probeAfterMs`. */
  probeAfterMs?: number | undefined;
}

/** Options of {@link ScaleMesh.start}. */
export interface MeshOptions {
  topology: Topology;
  /** Services hosted at each site (at each spoke of a hub; the hub hosts none). */
  servicesPerSite: number;
  mode: NatsMode;
  /** Hop limit of every bridge (at least the topology's diameter). */
  maxHops: number;
  timings?: MeshTimings;
  /** Each site's broker and bridges in a process of their own (else all in this one). */
  processes?: boolean;
  logger?: Logger;
}

/** A site's broker, in this process or in the site's own. */
export interface SiteBroker {
  readonly registry: SiteRegistry;
  close(): Promise<void>;
}

/** A link's bridge, in this process or in a site process. */
export interface LinkBridge {
  readonly local: { readonly routeCount: number };
  readonly remote: { readonly routeCount: number };
  close(): Promise<void>;
}

/** One site of the mesh and what runs there. */
export interface MeshSite {
  readonly name: string;
  /** Subject prefix of the site's components. */
  readonly prefix: string;
  /** URL of the site's NATS. */
  readonly url: string;
  readonly broker: SiteBroker;
  /** The process of the site's broker and bridges, when not this one. */
  readonly child?: ChildSite;
  /** Connections the site's components in this process use, by role (for what they send). */
  readonly connections: Map<string, NatsConnection>;
}

/** A served instance and where. */
export interface Served {
  readonly site: string;
  readonly service: string;
  readonly server: ServerProxy;
}

/** One bridge of the mesh and the relay its remote side goes through. */
export interface MeshLink {
  readonly link: Link;
  readonly bridge: LinkBridge;
  readonly cutter: LinkCutter;
}

/** The service of the harness: it says where it runs. */
function scaleService(name: string, site: string) {
  return {
    name,
    version: '1.0.0',
    methods: {
      where: () => site,
      echo: (value: unknown) => value,
    },
  };
}

const NATS_START_BATCH = 8;

/**
 * Every component of every site shares this one process: when it is busy
 * (a hundred sites converging), its timers run late, and the library's
 * default pings (every second, two missed = dead) would drop connections
 * that are fine. The mesh's connections ping rarely and wait long to
 * connect; cut links are seen at once anyway (their sockets close).
 */
const CONNECTION = { pingIntervalMs: 10_000, maxPingsOut: 3, connectTimeoutMs: 20_000 };

/** Meshes not yet closed (so that an interrupted run can stop its nats-servers). */
const open = new Set<ScaleMesh>();

/** Closes every mesh still open (on SIGINT or SIGTERM). */
export async function closeAllMeshes(): Promise<void> {
  await Promise.all([...open].map((mesh) => mesh.close()));
}

export class ScaleMesh {
  readonly options: MeshOptions;
  readonly sites = new Map<string, MeshSite>();
  readonly links = new Map<string, MeshLink>();
  /** Live servers by service name. */
  readonly served = new Map<string, Served[]>();
  readonly #nats: NatsServerHandle[] = [];
  readonly #clients = new Map<string, Client>();
  readonly #extraConnections: NatsConnection[] = [];
  readonly #logger: Logger;
  /** Dates the registries' last change (from the start of the sites). */
  #clock: RegistryClock | undefined;

  private constructor(options: MeshOptions) {
    this.options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Starts NATS, brokers and servers (bridges come with {@link ScaleMesh.link}). */
  static async start(options: MeshOptions): Promise<ScaleMesh> {
    const mesh = new ScaleMesh(options);
    open.add(mesh);
    try {
      await mesh.#startSites();
      mesh.#clock = new RegistryClock(() => {
        let sum = 0;
        for (const site of mesh.sites.values()) sum += site.broker.registry.generation;
        return sum;
      });
      await mesh.#startServers();
    } catch (err) {
      await mesh.close();
      throw err;
    }
    return mesh;
  }

  get topology(): Topology {
    return this.options.topology;
  }

  /** Ids of the links whose relay is not cut. */
  get up(): Set<string> {
    return new Set([...this.links.values()].filter((l) => !l.cutter.isCut).map((l) => l.link.id));
  }

  /** The NATS servers (one, or one per site). */
  get natsServers(): readonly NatsServerHandle[] {
    return this.#nats;
  }

  /** Starts one bridge per link and waits until each has linked its two sites. */
  async link(): Promise<void> {
    if (this.options.processes) return this.#linkInProcesses();
    const { maxHops, timings } = this.options;
    await this.#eachLink(async (link, a, b, cutter) => {
      const local = await this.#connect(a, `bridge-${link.id}`);
      const remote = await this.#connect(b, `bridge-${link.id}`, cutter.url);
      const bridge = await Bridge.start({
        local: { connection: local, prefix: a.prefix },
        remote: { connection: remote, prefix: b.prefix },
        maxHops,
        heartbeatMs: timings?.bridgeHeartbeatMs,
        refreshMs: timings?.refreshMs,
        logger: this.#logger,
      });
      this.links.set(link.id, { link, bridge, cutter });
      if (!(await bridge.ready())) throw new Error(`bridge ${link.id} did not link`);
    });
  }

  /**
   * Runs `start` for every link of the topology at once, with its two sites
   * and a cutter between the bridge and its remote side's NATS (closed here
   * if `start` fails before recording the link).
   */
  async #eachLink(
    start: (link: Link, a: MeshSite, b: MeshSite, cutter: LinkCutter) => Promise<void> | void,
  ): Promise<void> {
    await Promise.all(
      this.options.topology.links.map(async (link) => {
        const b = this.sites.get(link.b)!;
        const cutter = await LinkCutter.start(b.url);
        try {
          await start(link, this.sites.get(link.a)!, b, cutter);
        } catch (err) {
          // Held by the mesh (and closed with it) once the link is recorded; not before.
          if (this.links.get(link.id)?.cutter !== cutter) await cutter.close();
          throw err;
        }
      }),
    );
  }

  /** Starts each bridge in the process of its local side's site. */
  async #linkInProcesses(): Promise<void> {
    const { maxHops, timings } = this.options;
    const placed = new Map<string, PlacedBridge[]>();
    await this.#eachLink((link, a, b, cutter) => {
      const child = a.child!;
      const bridge: LinkBridge = {
        local: {
          get routeCount() {
            return child.routes(link.id).local;
          },
        },
        remote: {
          get routeCount() {
            return child.routes(link.id).remote;
          },
        },
        // The site process closes its bridges.
        close: async () => {},
      };
      this.links.set(link.id, { link, bridge, cutter });
      const list = placed.get(link.a) ?? [];
      list.push({
        id: link.id,
        local: { site: a.name, prefix: a.prefix, url: a.url },
        remote: { site: b.name, prefix: b.prefix, url: cutter.url },
        maxHops,
        heartbeatMs: timings?.bridgeHeartbeatMs,
        refreshMs: timings?.refreshMs,
      });
      placed.set(link.a, list);
    });
    const failed = await Promise.all(
      [...placed].map(([site, bridges]) => this.sites.get(site)!.child!.link(bridges)),
    );
    const down = failed.flat();
    if (down.length > 0) throw new Error(`bridges did not link: ${down.join(', ')}`);
  }

  /** What the brokers hold now, with who hosts what and which links are up. */
  snapshot(): MeshSnapshot {
    const registries = new Map<string, InstanceView[]>();
    for (const [name, site] of this.sites)
      registries.set(name, [...site.broker.registry.instances()]);
    const hosts = new Map<string, Set<string>>();
    for (const [service, list] of this.served) {
      if (list.length > 0) hosts.set(service, new Set(list.map((s) => s.site)));
    }
    return {
      topology: this.topology,
      up: this.up,
      hosts,
      registries,
      maxHops: this.options.maxHops,
    };
  }

  /**
   * Sites where the bridge halves advertise another number of routes than
   * the site's broker holds, as `site: advertised N, held M` (when routes
   * stay missing, this tells the halves' view of the far site from their
   * registrations).
   */
  advertisedVersusHeld(): string[] {
    const advertised = new Map<string, number>();
    const add = (site: string, n: number) => advertised.set(site, (advertised.get(site) ?? 0) + n);
    for (const { link, bridge } of this.links.values()) {
      add(link.a, bridge.local.routeCount);
      add(link.b, bridge.remote.routeCount);
    }
    const out: string[] = [];
    for (const [name, site] of this.sites) {
      let held = 0;
      for (const v of site.broker.registry.instances()) if (v.hops > 0) held++;
      const n = advertised.get(name) ?? 0;
      if (n !== held) out.push(`${name}: advertised ${n}, held ${held}`);
    }
    return out;
  }

  /** Checks the routing state now. */
  check(): CheckResult {
    return checkMesh(this.snapshot());
  }

  /**
   * Polls the routing state until it has converged; resolves with the time
   * it took, or with the last check when `timeoutMs` passes first. A
   * converged state is dated (`at`, on the `performance.now()` clock) by the
   * registries' last change before its check ({@link RegistryClock}), and
   * not before `since` (default: now), when the harness last changed what
   * the check compares them with (links, servers). Checks at most every
   * `pollMs`, and tells `onCheck` of each check.
   */
  async waitConverged(
    timeoutMs: number,
    {
      pollMs = 200,
      since,
      onCheck,
    }: { pollMs?: number; since?: number; onCheck?: (check: CheckResult) => void } = {},
  ): Promise<{ ok: boolean; ms: number; at: number; last: CheckResult }> {
    const start = performance.now();
    const from = since ?? start;
    for (;;) {
      // Sampled, snapshot and checked in one synchronous step: the state checked is the one dated.
      const unchangedSince = this.#clock?.sample() ?? performance.now();
      const at = Math.max(from, unchangedSince);
      const checkedAt = performance.now();
      const last = this.check();
      onCheck?.(last);
      const ms = at - from;
      if (converged(last)) return { ok: true, ms, at, last };
      if (performance.now() - start > timeoutMs) return { ok: false, ms, at, last };
      // A check of a big mesh takes a while: leave the components most of the time.
      await sleep(Math.max(pollMs, 4 * (performance.now() - checkedAt)));
    }
  }

  /** Serves `service` at `site` (a new instance) and resolves once it is registered there. */
  async serve(site: string, service: string): Promise<Served> {
    const s = this.sites.get(site)!;
    const server = await serve(scaleService(service, site), {
      connection: s.connections.get('servers')!,
      prefix: s.prefix,
      discovery: false,
      heartbeatMs: this.options.timings?.serverHeartbeatMs,
      logger: this.#logger,
    });
    const served: Served = { site, service, server };
    const list = this.served.get(service);
    if (list) list.push(served);
    else this.served.set(service, [served]);
    return served;
  }

  /** Stops a served instance cleanly (it deregisters at once). */
  async unserve(served: Served): Promise<void> {
    const list = this.served.get(served.service) ?? [];
    const i = list.indexOf(served);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.served.delete(served.service);
    await served.server.close();
  }

  /** A client at `site` (one per site, made on first use). */
  async client(site: string): Promise<Client> {
    let client = this.#clients.get(site);
    if (!client) {
      const s = this.sites.get(site)!;
      const nc = await this.#connect(s, 'client');
      client = await Client.connect({ connection: nc, prefix: s.prefix, timeoutMs: 5000 });
      this.#clients.set(site, client);
    }
    return client;
  }

  /** Where the control monitor listens: one connection per NATS server. */
  async watchedSites(): Promise<WatchedSite[]> {
    const byUrl = new Map<string, NatsConnection>();
    const watched: WatchedSite[] = [];
    for (const site of this.sites.values()) {
      let nc = byUrl.get(site.url);
      if (!nc) {
        nc = await openNatsConnection({ nats: site.url, ...CONNECTION }, 'scale-monitor');
        this.#extraConnections.push(nc);
        byUrl.set(site.url, nc);
      }
      watched.push({ site: site.name, nc, prefix: site.prefix });
    }
    return watched;
  }

  /**
   * Messages and bytes sent so far by every connection attached to each site
   * (those of site processes as they last reported them).
   */
  sent(): Map<string, { msgs: number; bytes: number }> {
    const out = new Map<string, { msgs: number; bytes: number }>();
    for (const [name, site] of this.sites) {
      let msgs = 0;
      let bytes = 0;
      for (const nc of site.connections.values()) {
        const stats = nc.stats();
        msgs += stats.outMsgs;
        bytes += stats.outBytes;
      }
      for (const other of this.sites.values()) {
        const sent = other.child?.sent[name];
        msgs += sent?.msgs ?? 0;
        bytes += sent?.bytes ?? 0;
      }
      out.set(name, { msgs, bytes });
    }
    return out;
  }

  /** Process ids of the site processes (none when every component runs here). */
  get childPids(): number[] {
    return [...this.sites.values()].flatMap((s) =>
      s.child?.pid === undefined ? [] : [s.child.pid],
    );
  }

  /** Closes everything, servers first and NATS last. */
  async close(): Promise<void> {
    open.delete(this);
    this.#clock?.close();
    const quietly = (p: Promise<unknown>) => p.catch(() => {});
    await Promise.all([...this.served.values()].flat().map((s) => quietly(s.server.close())));
    this.served.clear();
    await Promise.all([...this.#clients.values()].map((c) => quietly(c.close())));
    this.#clients.clear();
    await Promise.all([...this.links.values()].map((l) => quietly(l.bridge.close())));
    await Promise.all([...this.links.values()].map((l) => quietly(l.cutter.close())));
    this.links.clear();
    await Promise.all([...this.sites.values()].map((s) => quietly(s.broker.close())));
    const connections = [
      ...[...this.sites.values()].flatMap((s) => [...s.connections.values()]),
      ...this.#extraConnections,
    ];
    await Promise.all(connections.map((nc) => quietly(nc.close())));
    this.sites.clear();
    this.#extraConnections.length = 0;
    await Promise.all(this.#nats.splice(0).map((n) => quietly(n.close())));
  }

  async #startSites(): Promise<void> {
    const { topology, mode } = this.options;
    const urls = new Map<string, string>();
    if (mode === 'shared') {
      const nats = await startNatsServer({ name: 'scale', monitor: true });
      this.#nats.push(nats);
      for (const site of topology.sites) urls.set(site, nats.url);
    } else {
      for (let i = 0; i < topology.sites.length; i += NATS_START_BATCH) {
        const batch = topology.sites.slice(i, i + NATS_START_BATCH);
        const started = await Promise.all(
          batch.map((site) => startNatsServer({ name: site, monitor: true })),
        );
        this.#nats.push(...started);
        for (const [j, site] of batch.entries()) urls.set(site, started[j]!.url);
      }
    }
    await Promise.all(
      topology.sites.map(async (name) => {
        // Sharing a NATS, each site keeps to its own subjects.
        const prefix = mode === 'shared' ? name : 'sb';
        const url = urls.get(name)!;
        const connections = new Map<string, NatsConnection>();
        const partial = { name, prefix, url, connections };
        const timings = brokerTimings(this.options.timings);
        // Held by the mesh as soon as its broker runs, so that a failure after it closes it.
        if (this.options.processes) {
          const child = await ChildSite.start({
            site: name,
            prefix,
            url,
            broker: timings,
            connection: CONNECTION,
          });
          this.sites.set(name, { ...partial, broker: child, child });
        } else {
          const brokerNc = await this.#connect(partial, 'broker');
          const broker = await Broker.start({
            connection: brokerNc,
            site: name,
            prefix,
            logger: this.#logger,
            ...timings,
          });
          this.sites.set(name, { ...partial, broker });
        }
        await this.#connect(partial, 'servers');
      }),
    );
  }

  async #startServers(): Promise<void> {
    const { topology, servicesPerSite } = this.options;
    const hosting =
      topology.kind === 'hub' ? topology.sites.filter((s) => s !== 'hub') : topology.sites;
    await Promise.all(
      hosting.map(async (site) => {
        for (let k = 1; k <= servicesPerSite; k++) {
          await this.serve(site, `${site}_v${String(k).padStart(3, '0')}`);
        }
      }),
    );
  }

  /**
   * Opens a connection for `role` at a site (through `via` instead of the site's URL when given),
   * as a component opens its own: read by Switchboard's reader, its reconnections guarded.
   */
  async #connect(
    site: { name: string; url: string; connections: Map<string, NatsConnection> },
    role: string,
    via?: string,
  ): Promise<NatsConnection> {
    const name = `${role}@${site.name}`;
    const nc = await openNatsConnection({ nats: via ?? site.url, ...CONNECTION }, name);
    site.connections.set(role, nc);
    return nc;
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
