/**
 * The shapes of mesh the scale harness builds, as plain graphs: sites, the
 * links between them (each one bridge), and distances over the links that
 * are up. Pure: no NATS, no timers.
 */

/** Kinds of topology the harness knows. */
export const TOPOLOGY_KINDS = ['hub', 'chain', 'grid', 'ring'] as const;
export type TopologyKind = (typeof TOPOLOGY_KINDS)[number];

/** One bridge: `a` is its local side, `b` its remote side. */
export interface Link {
  readonly id: string;
  readonly a: string;
  readonly b: string;
}

/** A mesh shape: its sites and links. */
export interface Topology {
  readonly kind: TopologyKind;
  /** What the shape is, for the report (`hub and 100 spokes`). */
  readonly label: string;
  readonly sites: readonly string[];
  readonly links: readonly Link[];
}

/** Size of a topology: spokes of a hub, sites of a chain or ring, side of a grid. */
export function buildTopology(kind: TopologyKind, size: number): Topology {
  if (!Number.isInteger(size) || size < 2) {
    throw new RangeError(`topology size must be an integer of at least 2 (got ${size})`);
  }
  const links: Link[] = [];
  const link = (a: string, b: string) => links.push({ id: `${a}-${b}`, a, b });
  switch (kind) {
    case 'hub': {
      const spokes = names('s', size);
      for (const spoke of spokes) link(spoke, 'hub');
      return { kind, label: `hub and ${size} spokes`, sites: ['hub', ...spokes], links };
    }
    case 'chain':
    case 'ring': {
      const sites = names(kind === 'chain' ? 'c' : 'r', size);
      for (let i = 0; i + 1 < size; i++) link(sites[i]!, sites[i + 1]!);
      if (kind === 'ring' && size > 2) link(sites[size - 1]!, sites[0]!);
      return { kind, label: `${kind} of ${size}`, sites, links };
    }
    case 'grid': {
      const at = (x: number, y: number) => `g${x}_${y}`;
      const sites: string[] = [];
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          sites.push(at(x, y));
          if (x > 0) link(at(x - 1, y), at(x, y));
          if (y > 0) link(at(x, y - 1), at(x, y));
        }
      }
      return { kind, label: `${size}×${size} grid`, sites, links };
    }
  }
}

function names(prefix: string, count: number): string[] {
  const width = String(count).length;
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(width, '0')}`);
}

/** Neighbours of every site over the links in `up` (every link when omitted). */
export function adjacency(topology: Topology, up?: ReadonlySet<string>): Map<string, string[]> {
  const adj = new Map<string, string[]>(topology.sites.map((s) => [s, []]));
  for (const { id, a, b } of topology.links) {
    if (up && !up.has(id)) continue;
    adj.get(a)!.push(b);
    adj.get(b)!.push(a);
  }
  return adj;
}

/** Hops from `from` to every site it reaches over `adj` (breadth first). */
export function distancesFrom(
  adj: ReadonlyMap<string, string[]>,
  from: string,
): Map<string, number> {
  const dist = new Map([[from, 0]]);
  const queue = [from];
  for (let i = 0; i < queue.length; i++) {
    const here = queue[i]!;
    for (const next of adj.get(here) ?? []) {
      if (dist.has(next)) continue;
      dist.set(next, dist.get(here)! + 1);
      queue.push(next);
    }
  }
  return dist;
}

/** The site farthest from `from` (the first of them in site order), and its distance. */
export function farthestFrom(topology: Topology, from: string): { site: string; hops: number } {
  const dist = distancesFrom(adjacency(topology), from);
  let best = { site: from, hops: 0 };
  for (const site of topology.sites) {
    const hops = dist.get(site) ?? -1;
    if (hops > best.hops) best = { site, hops };
  }
  return best;
}

/** Longest shortest path between two sites (the hop limit the bridges need). */
export function diameter(topology: Topology): number {
  const adj = adjacency(topology);
  let longest = 0;
  for (const site of topology.sites) {
    for (const hops of distancesFrom(adj, site).values()) longest = Math.max(longest, hops);
  }
  return longest;
}
