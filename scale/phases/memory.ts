/**
 * Sizes and memory: how many instances and routes each broker holds, how
 * many routes each bridge advertises, and what they take. Every component
 * shares this one process, so the heap cannot be split by component
 * directly; two figures stand in:
 * - the biggest broker's registry, rebuilt alone from the same
 *   registrations (decoded from msgpack, as the broker got them) in a
 *   worker isolate, measured as the heap it adds: a broker's per-instance
 *   state is its registry entry, so this is the broker's memory per entry;
 * - the heap the whole mesh gained from linking (every broker's routes,
 *   every bridge's route state, subscriptions and registrars), per route
 *   held by a broker: an upper bound of what one route costs everywhere.
 */
import { Worker } from 'node:worker_threads';
import { Codec, type InstanceRegistration } from '../../src/internal.js';
import type { ScaleMesh } from '../mesh.js';
import { mean, pidsRssBytes, round, settledHeapBytes } from '../stats.js';
import type { RegistryHeapJob } from './registry-heap.js';

export interface SizeFigures {
  /** Entries (instances and routes) per broker: the biggest, and the mean. */
  registry: { biggest: { site: string; entries: number }; mean: number; total: number };
  /** Routes per bridge (both halves): the biggest, and the mean. */
  bridgeRoutes: { biggest: { link: string; routes: number }; mean: number };
  /** Resident memory of the NATS servers, in MiB: the whole, and the biggest. */
  natsRssMiB: { total: number; biggest: number };
  /** This process: heap in use and resident, in MiB. */
  nodeMiB: { heap: number; rss: number };
  /** The site processes' RSS, when brokers and bridges run in their own (`--processes`). */
  siteProcessesMiB?: { total: number; biggest: number; count: number };
}

export interface MemoryFigures {
  /** The biggest broker's registry rebuilt alone: KiB, and bytes per entry. */
  biggestBroker: { site: string; entries: number; kib: number; bytesPerEntry: number };
  /** Heap gained by the whole process from linking the sites, per route held by a broker. */
  mesh: { kib: number; routes: number; bytesPerRoute: number } | undefined;
}

/** Entries the replicas of the biggest registry hold in all. */
const REPLICA_ENTRIES = 20_000;

export function measureSizes(mesh: ScaleMesh): SizeFigures {
  const entries = [...mesh.sites.values()].map((s) => ({
    site: s.name,
    entries: s.broker.registry.size,
  }));
  const biggest = entries.reduce((a, b) => (b.entries > a.entries ? b : a));
  const routes = [...mesh.links.values()].map((l) => ({
    link: l.link.id,
    routes: l.bridge.local.routeCount + l.bridge.remote.routeCount,
  }));
  const biggestLink = routes.reduce((a, b) => (b.routes > a.routes ? b : a));
  const rss = mesh.natsServers.map((n) => pidsRssBytes(n.pid === undefined ? [] : [n.pid]));
  const mib = (bytes: number) => round(bytes / 2 ** 20);
  const mem = process.memoryUsage();
  const children = mesh.childPids.map((pid) => pidsRssBytes([pid]));
  return {
    ...(children.length === 0
      ? {}
      : {
          siteProcessesMiB: {
            total: mib(children.reduce((a, b) => a + b, 0)),
            biggest: mib(Math.max(...children)),
            count: children.length,
          },
        }),
    registry: {
      biggest,
      mean: round(mean(entries.map((e) => e.entries))),
      total: entries.reduce((n, e) => n + e.entries, 0),
    },
    bridgeRoutes: { biggest: biggestLink, mean: round(mean(routes.map((r) => r.routes))) },
    natsRssMiB: { total: mib(rss.reduce((a, b) => a + b, 0)), biggest: mib(Math.max(...rss)) },
    nodeMiB: { heap: mib(mem.heapUsed), rss: mib(mem.rss) },
  };
}

/** Routes (entries with hops > 0) the brokers hold, over every site. */
export function brokerRoutes(mesh: ScaleMesh): number {
  let n = 0;
  for (const site of mesh.sites.values()) {
    for (const v of site.broker.registry.instances()) if (v.hops > 0) n++;
  }
  return n;
}

/**
 * The memory figures; undefined without `--expose-gc`. `linked` is the
 * settled heap before and after linking, when it was read.
 */
export async function measureMemory(
  mesh: ScaleMesh,
  linked: { before: number; after: number; routes: number } | undefined,
): Promise<MemoryFigures | undefined> {
  if ((await settledHeapBytes()) === undefined) return undefined;
  const big = [...mesh.sites.values()].reduce((a, b) =>
    b.broker.registry.size > a.broker.registry.size ? b : a,
  );
  // As the broker got them: decoded from msgpack, so no string is shared.
  const codec = new Codec();
  const entries = big.broker.registry.size;
  const wire = codec.encode(
    [...big.broker.registry.instances()].map(
      (v): InstanceRegistration => ({
        id: v.id,
        service: v.service,
        version: v.version,
        methods: v.methods,
        metadata: v.metadata,
        heartbeatMs: 1000,
        secret: 'x'.repeat(24),
        ...(v.hops > 0 ? { route: { site: v.site, path: v.path } } : {}),
      }),
    ),
  );
  // Enough copies that the heap's noise (timers, buffers) is small beside them, in an
  // isolate of their own (the mesh's heap moves by more than they take).
  const copies = Math.max(1, Math.ceil(REPLICA_ENTRIES / Math.max(1, big.broker.registry.size)));
  const job: RegistryHeapJob = { site: big.name, wire, copies };
  const worker = new Worker(new URL('./registry-heap.js', import.meta.url), { workerData: job });
  const perReplica = await new Promise<number>((resolve, reject) => {
    worker.once('message', (bytes: number | null) =>
      bytes === null ? reject(new Error('the memory worker has no gc()')) : resolve(bytes),
    );
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the memory worker exited (${code})`)));
  }).finally(() => worker.terminate());
  const kib = (bytes: number) => round(bytes / 1024);
  const per = (bytes: number, n: number) => (n === 0 ? 0 : round(bytes / n, 0));
  return {
    biggestBroker: {
      site: big.name,
      entries,
      kib: kib(perReplica),
      bytesPerEntry: per(perReplica, entries),
    },
    mesh: linked && {
      kib: kib(linked.after - linked.before),
      routes: linked.routes,
      bytesPerRoute: per(linked.after - linked.before, linked.routes),
    },
  };
}
