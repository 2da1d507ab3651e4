/**
 * How fast a change crosses the mesh: a new service is served at a site on
 * the edge of the mesh; the time until each site's broker announces a route
 * to it, and until a client at the farthest site gets an answer from it;
 * then the server stops, and the time until no site holds a route to it.
 */
import type { Subscription } from 'nats';
import { Codec, parse } from '../../src/internal.js';
import type { WatchedSite } from '../control-monitor.js';
import { type ScaleMesh, sleep } from '../mesh.js';
import { percentile, round } from '../stats.js';
import { adjacency, distancesFrom, type Topology } from '../topology.js';

/** Figures of the propagation phase, in milliseconds. */
export interface PropagationFigures {
  samples: number;
  /** Hops between the site serving and the site calling. */
  hops: number;
  /** Served → answered by a client at the farthest site. */
  callable: Summary;
  /** Served → announced by every site's broker. */
  everywhere: Summary;
  /** Stop → no route left at any site. */
  withdrawn: Summary;
  /** Samples that did not complete within the time allowed. */
  failures: number;
}

export interface Summary {
  p50: number;
  p99: number;
  max: number;
}

export function summary(values: readonly number[]): Summary {
  return {
    p50: round(percentile(values, 50)),
    p99: round(percentile(values, 99)),
    max: round(Math.max(...values)),
  };
}

const codec = new Codec();
/** How long one sample may take to spread, or to be withdrawn. */
const SAMPLE_TIMEOUT_MS = 10_000;
/** Silence after the last withdrawal before a sample counts as done (late re-advertisements). */
const QUIET_MS = 200;

/** Sites at the edge of the mesh (as far from some site as the diameter), and their farthest peers. */
export function edgePairs(
  topology: Topology,
  hosting: ReadonlySet<string>,
): Array<[string, string]> {
  const adj = adjacency(topology);
  const ecc = new Map<string, { far: string; hops: number }>();
  for (const site of topology.sites) {
    let far = { far: site, hops: 0 };
    for (const [other, hops] of distancesFrom(adj, site)) {
      if (hops > far.hops && hosting.has(other)) far = { far: other, hops };
    }
    ecc.set(site, far);
  }
  const longest = Math.max(...[...ecc.values()].map((e) => e.hops));
  return topology.sites
    .filter((s) => hosting.has(s) && ecc.get(s)!.hops === longest)
    .map((s) => [s, ecc.get(s)!.far]);
}

/** Tracks, per site, the routes announced for one service. */
class SpreadWatch {
  readonly held = new Map<string, Set<string>>();
  readonly firstUp = new Map<string, number>();
  lastChange = 0;
  readonly #subs: Subscription[] = [];
  #onUp: ((site: string) => void) | undefined;

  constructor(watched: readonly WatchedSite[], service: string) {
    for (const { site, nc, prefix } of watched) {
      this.held.set(site, new Set());
      this.#subs.push(
        nc.subscribe(`${prefix}.events.registry.${service}`, {
          callback: (_err, msg) => {
            const event = parse.registryEvent(codec.decode(msg.data));
            const ids = this.held.get(site)!;
            const now = performance.now();
            this.lastChange = now;
            if (event.kind === 'up') {
              ids.add(event.id);
              if (!this.firstUp.has(site)) {
                this.firstUp.set(site, now);
                this.#onUp?.(site);
              }
            } else ids.delete(event.id);
          },
        }),
      );
    }
  }

  /**
   * Waits until NATS has the subscriptions. A connection that is
   * reconnecting fails its flush; it sends them again once back, so the
   * sample goes on without waiting for it.
   */
  async ready(watched: readonly WatchedSite[]): Promise<void> {
    const connections = [...new Set(watched.map((w) => w.nc))];
    await Promise.all(connections.map((nc) => nc.flush().catch(() => {})));
  }

  onUp(listener: (site: string) => void): void {
    this.#onUp = listener;
  }

  get empty(): boolean {
    return [...this.held.values()].every((ids) => ids.size === 0);
  }

  close(): void {
    for (const sub of this.#subs) sub.unsubscribe();
  }
}

export async function measurePropagation(
  mesh: ScaleMesh,
  watched: readonly WatchedSite[],
  samples: number,
): Promise<PropagationFigures> {
  const hosting = new Set([...mesh.served.values()].flat().map((s) => s.site));
  const pairs = edgePairs(mesh.topology, hosting);
  const callable: number[] = [];
  const everywhere: number[] = [];
  const withdrawn: number[] = [];
  let failures = 0;
  let hops = 0;
  const siteCount = mesh.sites.size;
  for (let i = 0; i < samples; i++) {
    const [origin, far] = pairs[i % pairs.length]!;
    hops = distancesFrom(adjacency(mesh.topology), origin).get(far) ?? 0;
    const service = `probe${i}`;
    const watch = new SpreadWatch(watched, service);
    await watch.ready(watched);
    const client = await mesh.client(far);
    const start = performance.now();
    const answered = new Promise<number>((resolve) => {
      watch.onUp(async (site) => {
        if (site !== far) return;
        const deadline = performance.now() + SAMPLE_TIMEOUT_MS;
        while (performance.now() < deadline) {
          try {
            const where = await client
              .proxy<{ where(): string }>(service, { timeoutMs: 2000 })
              .where();
            if (where === origin) return resolve(performance.now());
          } catch {
            // Not callable yet: a route is announced before every hop behind it may be.
          }
          await sleep(5);
        }
        resolve(Number.NaN);
      });
    });
    const served = await mesh.serve(origin, service);
    const answeredAt = await Promise.race([
      answered,
      sleep(SAMPLE_TIMEOUT_MS).then(() => Number.NaN),
    ]);
    while (watch.firstUp.size < siteCount && performance.now() - start < SAMPLE_TIMEOUT_MS) {
      await sleep(5);
    }
    const reached = watch.firstUp.size === siteCount;
    if (Number.isNaN(answeredAt) || !reached) failures++;
    else {
      callable.push(answeredAt - start);
      everywhere.push(Math.max(...watch.firstUp.values()) - start);
    }
    const stop = performance.now();
    await mesh.unserve(served);
    while (performance.now() - stop < SAMPLE_TIMEOUT_MS) {
      if (watch.empty && performance.now() - watch.lastChange >= QUIET_MS) break;
      await sleep(10);
    }
    if (watch.empty) withdrawn.push(watch.lastChange - stop);
    else failures++;
    watch.close();
  }
  return {
    samples,
    hops,
    callable: summary(callable),
    everywhere: summary(everywhere),
    withdrawn: summary(withdrawn),
    failures,
  };
}
