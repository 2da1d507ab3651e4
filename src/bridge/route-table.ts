import type { InstanceView } from '../protocol/index.js';

/** One route a bridge half advertises to its broker: a service reachable through the link. */
export interface RouteAdvert {
  /** Identity of the route: service, version, hosting site and path. */
  key: string;
  service: string;
  version: string;
  methods: string[];
  /** Site hosting the service. */
  site: string;
  /** Sites a call crosses from the advertising site, nearest first, hosting site last. */
  path: string[];
}

/** What a link lets through in one direction. */
export interface RouteRules {
  /** Site the routes are advertised into. */
  into: string;
  /** Site at the other end of the link, where the instances were seen. */
  from: string;
  /** Longest path (in bridges crossed) a route may have. */
  maxHops: number;
  /** Whether the link's policy lets this service through in this direction. */
  allows(service: string): boolean;
}

/** Changes to apply to the advertised routes. */
export interface RouteChanges {
  added: RouteAdvert[];
  removed: RouteAdvert[];
}

/**
 * The routes one bridge half advertises, computed path-vector style from the
 * instances visible on the far site: each route is the far site's path to the
 * service with the far site put in front. A route that would cross the
 * advertising site again (a loop) or exceed the hop limit is refused; of the
 * paths to one service version at one hosting site one shortest is kept.
 * Pure logic: the bridge feeds it and applies the changes it returns.
 */
export class RouteTable {
  readonly #rules: RouteRules;
  readonly #byService = new Map<string, Map<string, RouteAdvert>>();

  constructor(rules: RouteRules) {
    this.#rules = rules;
  }

  /** Every route advertised now. */
  routes(): RouteAdvert[] {
    return [...this.#byService.values()].flatMap((m) => [...m.values()]);
  }

  /** Replaces what is known of one service with the instances now seen on the far site. */
  update(service: string, instances: readonly InstanceView[]): RouteChanges {
    const next = this.#compute(service, instances);
    const previous = this.#byService.get(service) ?? new Map<string, RouteAdvert>();
    const changes: RouteChanges = { added: [], removed: [] };
    for (const [key, route] of previous) if (!next.has(key)) changes.removed.push(route);
    for (const [key, route] of next) {
      const old = previous.get(key);
      if (!old || old.methods.join(',') !== route.methods.join(',')) {
        if (old) changes.removed.push(old);
        changes.added.push(route);
      }
    }
    if (next.size === 0) this.#byService.delete(service);
    else this.#byService.set(service, next);
    return changes;
  }

  /** Replaces everything with a full view of the far site (services absent from it are withdrawn). */
  replaceAll(instances: readonly InstanceView[]): RouteChanges {
    const byService = new Map<string, InstanceView[]>();
    for (const inst of instances) {
      const list = byService.get(inst.service);
      if (list) list.push(inst);
      else byService.set(inst.service, [inst]);
    }
    const changes: RouteChanges = { added: [], removed: [] };
    for (const service of new Set([...this.#byService.keys(), ...byService.keys()])) {
      const c = this.update(service, byService.get(service) ?? []);
      changes.added.push(...c.added);
      changes.removed.push(...c.removed);
    }
    return changes;
  }

  /** Withdraws everything (the link is down). */
  clear(): RouteAdvert[] {
    const all = this.routes();
    this.#byService.clear();
    return all;
  }

  #compute(service: string, instances: readonly InstanceView[]): Map<string, RouteAdvert> {
    const { into, from, maxHops } = this.#rules;
    const routes = new Map<string, RouteAdvert>();
    if (!this.#rules.allows(service)) return routes;
    // One path per version and hosting site: the shortest; of equal ones the one
    // advertised already, else the first in order. Passing on every equal-cost path
    // would multiply routes at each hop (a corner of a 5×5 grid sees 70 shortest paths
    // to the opposite one); other paths still arrive through the site's other bridges.
    // Keeping the incumbent spares the mesh a withdrawal and an advertisement at every
    // site downstream each time an equal path comes back.
    const incumbent = new Map<string, string>();
    for (const route of this.#byService.get(service)?.values() ?? []) {
      incumbent.set(`${route.version}@${route.site}`, route.path.join(','));
    }
    const best = new Map<string, string>();
    const candidates: Array<{ inst: InstanceView; path: string[]; joined: string }> = [];
    for (const inst of instances) {
      const path = [from, ...inst.path];
      if (inst.site === into || path.includes(into) || path.length > maxHops) continue;
      const group = `${inst.version}@${inst.site}`;
      const joined = path.join(',');
      const held = best.get(group);
      if (held === undefined || preferPath(path, joined, held, incumbent.get(group))) {
        best.set(group, joined);
      }
      candidates.push({ inst, path, joined });
    }
    for (const { inst, path, joined } of candidates) {
      if (joined !== best.get(`${inst.version}@${inst.site}`)) continue;
      const key = `${service}|${inst.version}|${inst.site}|${path.join(',')}`;
      const existing = routes.get(key);
      if (existing) {
        for (const m of inst.methods) if (!existing.methods.includes(m)) existing.methods.push(m);
        existing.methods.sort();
        continue;
      }
      routes.set(key, {
        key,
        service,
        version: inst.version,
        methods: [...new Set(inst.methods)].sort(),
        site: inst.site,
        path,
      });
    }
    return routes;
  }
}

/**
 * Whether `path` (joined: `joined`) beats the path `held` (joined): fewer
 * sites, then the `incumbent` (the path advertised now), then first in order.
 */
function preferPath(path: string[], joined: string, held: string, incumbent?: string): boolean {
  const heldLength = held.split(',').length;
  if (path.length !== heldLength) return path.length < heldLength;
  if (held === incumbent) return false;
  if (joined === incumbent) return true;
  return joined < held;
}
