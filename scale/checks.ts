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
  // Per site: service → host → routes (and whether the site hosts it itself).
  const held = new Map<string, Map<string, InstanceView[]>>();
  const pathsAt = new Map<string, Set<string>>();
  for (const [site, views] of registries) {
    const bySvcHost = new Map<string, InstanceView[]>();
    const paths = new Set<string>();
    for (const v of views) {
      const key = `${v.service}@${v.site}`;
      const list = bySvcHost.get(key);
      if (list) list.push(v);
      else bySvcHost.set(key, [v]);
      paths.add(`${key}|${v.path.join(',')}`);
    }
    held.set(site, bySvcHost);
    pathsAt.set(site, paths);
  }

  for (const [site, views] of registries) {
    for (const v of views) {
      if (v.hops === 0) continue;
      result.routes++;
      const path = v.path;
      if (path.includes(site) || new Set(path).size !== path.length || path.at(-1) !== v.site) {
        result.loops++;
        note(`loop: ${v.service}@${v.site} at ${site} via ${path.join(',')}`);
        continue;
      }
      let walk = linked(site, path[0]!);
      for (let i = 0; walk && i + 1 < path.length; i++) walk = linked(path[i]!, path[i + 1]!);
      const hosted = hosts.get(v.service)?.has(v.site) ?? false;
      const next = path[0]!;
      const rest = `${v.service}@${v.site}|${path.slice(1).join(',')}`;
      const backed = pathsAt.get(next)?.has(rest) ?? false;
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
      // Where following the nearest routes from a site ends: true at the host.
      const reaches = new Map<string, 'ok' | 'loop' | 'hole'>();
      const follow = (site: string, seen: Set<string>): 'ok' | 'loop' | 'hole' => {
        if (site === host) return 'ok';
        const known = reaches.get(site);
        if (known) return known;
        if (seen.has(site)) return 'loop';
        const routes = held.get(site)?.get(`${service}@${host}`) ?? [];
        if (routes.length === 0) return 'hole';
        const nearest = Math.min(...routes.map((r) => r.hops));
        seen.add(site);
        let outcome: 'ok' | 'loop' | 'hole' = 'ok';
        for (const r of routes) {
          if (r.hops !== nearest) continue;
          const next = follow(r.path[0]!, seen);
          if (next !== 'ok') outcome = next;
        }
        seen.delete(site);
        reaches.set(site, outcome);
        return outcome;
      };
      for (const site of topology.sites) {
        if (site === host) continue;
        const want = dist.get(site);
        const routes = held.get(site)?.get(`${service}@${host}`) ?? [];
        if (want === undefined || want > maxHops) continue;
        if (routes.length === 0) {
          result.missing++;
          note(`missing: ${service}@${host} at ${site} (${want} hops away)`);
          continue;
        }
        const nearest = Math.min(...routes.map((r) => r.hops));
        if (nearest > want) {
          result.longer++;
          note(`longer: ${service}@${host} at ${site} in ${nearest} hops, ${want} possible`);
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
