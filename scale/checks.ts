/**
 * The mesh's routing state checked against its topology: every route a
 * broker holds must be a loop-free walk over links that are up, to a site
 * that hosts the service, agreeing with what the next site holds; every
 * service must be reachable from every site in as few hops as the links
 * allow; and following the nearest routes from any site must end at the
 * host. Pure: it reads snapshots of the registries.
 */
import type { InstanceView } from '../src/internal.js';
import { adjacency, distancesFrom, type Topology } from './topology.js';

/** What the checker reads: the topology, which links are up, who hosts what, every registry. */
export interface MeshSnapshot {
  readonly topology: Topology;
  /** Ids of the links that are up. */
  readonly up: ReadonlySet<string>;
  /** Sites hosting a live instance of each service. */
  readonly hosts: ReadonlyMap<string, ReadonlySet<string>>;
  /** Every instance and route each site's broker holds. */
  readonly registries: ReadonlyMap<string, readonly InstanceView[]>;
  /** Longest route the bridges accept. */
  readonly maxHops: number;
}

/** Counts of what is wrong (all zero: the mesh has converged), with a few examples. */
export interface CheckResult {
  /** Routes held, over every site. */
  routes: number;
  /** Routes whose path crosses a site twice, crosses the site holding it, or ends elsewhere. */
  loops: number;
  /** Routes over a link that is down, to a site that no longer hosts the service, or that the next site does not back. */
  stale: number;
  /** (site, service, host) with no route although the host is reachable. */
  missing: number;
  /** (site, service, host) whose nearest route is longer than the shortest path over the links up. */
  longer: number;
  /** (site, service, host) from which following the nearest routes revisits a site. */
  forwardingLoops: number;
  /** (site, service, host) from which following the nearest routes reaches a site with none. */
  blackholes: number;
  /** Up to a few descriptions of problems, for the report. */
  examples: string[];
}

const MAX_EXAMPLES = 5;

/** What the check derives from one view, alone: the keys it indexes routes by, and whether its path loops. */
interface ViewKeys {
  /** `service@host`. */
  group: string;
  /** Number of `service@host|path`: how the view is found by the site behind it. */
  route: number;
  /** Number of `service@host|path after its first site`: the route the next site must hold to back this one. */
  backer: number;
  /** The path crosses a site twice or ends elsewhere than the host. */
  crooked: boolean;
}

/**
 * Keys of each view seen, kept across checks: a registry keeps its view
 * objects until they change, and a mesh of thousands of routes is checked
 * every few hundred ms in the process whose settling the checks time, so
 * the keys are made once per view rather than once per check. Route keys
 * are numbered, so that a check's sets hold numbers rather than strings
 * (they grow with the distinct routes a run sees, thousands to a few
 * hundred thousand).
 */
let keysOf = new WeakMap<InstanceView, ViewKeys>();
let routeNumbers = new Map<string, number>();

/**
 * Forgets the keys kept across checks, so that a measure of the heap taken
 * after checks does not count the checker's own memory.
 */
export function forgetCheckKeys(): void {
  keysOf = new WeakMap();
  routeNumbers = new Map();
}

function routeNumber(key: string): number {
  let n = routeNumbers.get(key);
  if (n === undefined) {
    n = routeNumbers.size;
    routeNumbers.set(key, n);
  }
  return n;
}

function viewKeys(v: InstanceView): ViewKeys {
  let keys = keysOf.get(v);
  if (!keys) {
    const group = `${v.service}@${v.site}`;
    const { path } = v;
    keys = {
      group,
      route: routeNumber(`${group}|${path.join(',')}`),
      backer: routeNumber(`${group}|${path.slice(1).join(',')}`),
      crooked: new Set(path).size !== path.length || path.at(-1) !== v.site,
    };
    keysOf.set(v, keys);
  }
  return keys;
}

/** The nearest routes one site holds to one service at one host: their length and next sites. */
interface Nearest {
  hops: number;
  next: string[];
}

/** Whether nothing is wrong. */
export function converged(result: CheckResult): boolean {
  return (
    result.loops +
      result.stale +
      result.missing +
      result.longer +
      result.forwardingLoops +
      result.blackholes ===
    0
  );
}

/** Checks every route of every site (see {@link CheckResult}). */
export function checkMesh(snapshot: MeshSnapshot): CheckResult {
  const { topology, up, hosts, registries, maxHops } = snapshot;
  const result: CheckResult = {
    routes: 0,
    loops: 0,
    stale: 0,
    missing: 0,
    longer: 0,
    forwardingLoops: 0,
    blackholes: 0,
    examples: [],
  };
  const note = (what: string) => {
    if (result.examples.length < MAX_EXAMPLES) result.examples.push(what);
  };
  const adj = adjacency(topology, up);
  const linked = (x: string, y: string) => adj.get(x)?.includes(y) ?? false;
  // Every route held, as (route number, site), and per site: service@host → its nearest routes.
  const sites = new Map(topology.sites.map((site, i) => [site, i]));
  // Sites outside the topology hold nothing (their routes are stale anyway: no link reaches them).
  const holds = (site: string, route: number) => {
    const i = sites.get(site);
    return i === undefined ? undefined : route * sites.size + i;
  };
  const held = new Set<number>();
  const nearestAt = new Map<string, Map<string, Nearest>>();
  const keyed = new Map<string, ViewKeys[]>();
  for (const [site, views] of registries) {
    const nearest = new Map<string, Nearest>();
    const keys = views.map(viewKeys);
    keyed.set(site, keys);
    for (let i = 0; i < views.length; i++) {
      const v = views[i]!;
      const { group, route } = keys[i]!;
      const at = holds(site, route);
      if (at !== undefined) held.add(at);
      // A site's own instances are not routes (the registry gives them the site's name as host).
      if (v.hops === 0) continue;
      const known = nearest.get(group);
      if (!known || v.hops < known.hops) nearest.set(group, { hops: v.hops, next: [v.path[0]!] });
      else if (v.hops === known.hops) known.next.push(v.path[0]!);
    }
    nearestAt.set(site, nearest);
  }

  for (const [site, views] of registries) {
    const keysOfSite = keyed.get(site)!;
    for (let i = 0; i < views.length; i++) {
      const v = views[i]!;
      if (v.hops === 0) continue;
      result.routes++;
      const path = v.path;
      const keys = keysOfSite[i]!;
      if (keys.crooked || path.includes(site)) {
        result.loops++;
        note(`loop: ${v.service}@${v.site} at ${site} via ${path.join(',')}`);
        continue;
      }
      let walk = linked(site, path[0]!);
      for (let i = 0; walk && i + 1 < path.length; i++) walk = linked(path[i]!, path[i + 1]!);
      const hosted = hosts.get(v.service)?.has(v.site) ?? false;
      const backer = holds(path[0]!, keys.backer);
      const backed = backer !== undefined && held.has(backer);
      if (!walk || !hosted || !backed || v.hops > maxHops) {
        result.stale++;
        const why = !walk
          ? 'a link down'
          : !hosted
            ? 'no longer hosted'
            : 'not backed by the next site';
        note(`stale (${why}): ${v.service}@${v.site} at ${site} via ${path.join(',')}`);
      }
    }
  }

  const distances = new Map<string, Map<string, number>>();
  const distFrom = (host: string) => {
    let d = distances.get(host);
    if (!d) {
      d = distancesFrom(adj, host);
      distances.set(host, d);
    }
    return d;
  };
  for (const [service, hostSites] of hosts) {
    for (const host of hostSites) {
      const dist = distFrom(host);
      const group = `${service}@${host}`;
      // Where following the nearest routes from a site ends: 'ok' at the host.
      const reaches = new Map<string, 'ok' | 'loop' | 'hole'>();
      const follow = (site: string, seen: Set<string>): 'ok' | 'loop' | 'hole' => {
        if (site === host) return 'ok';
        const known = reaches.get(site);
        if (known) return known;
        if (seen.has(site)) return 'loop';
        const nearest = nearestAt.get(site)?.get(group);
        if (!nearest) return 'hole';
        seen.add(site);
        let outcome: 'ok' | 'loop' | 'hole' = 'ok';
        for (const next of nearest.next) {
          const reached = follow(next, seen);
          if (reached !== 'ok') outcome = reached;
        }
        seen.delete(site);
        reaches.set(site, outcome);
        return outcome;
      };
      for (const site of topology.sites) {
        if (site === host) continue;
        const want = dist.get(site);
        if (want === undefined || want > maxHops) continue;
        const nearest = nearestAt.get(site)?.get(group);
        if (!nearest) {
          result.missing++;
          note(`missing: ${group} at ${site} (${want} hops away)`);
          continue;
        }
        if (nearest.hops > want) {
          result.longer++;
          note(`longer: ${group} at ${site} in ${nearest.hops} hops, ${want} possible`);
        }
        const outcome = follow(site, new Set());
        if (outcome === 'loop') {
          result.forwardingLoops++;
          note(`forwarding loop: ${service}@${host} from ${site}`);
        } else if (outcome === 'hole') {
          result.blackholes++;
          note(`blackhole: ${service}@${host} from ${site}`);
        }
      }
    }
  }
  return result;
}
