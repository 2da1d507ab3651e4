/**
 * The mesh as one site's listing shows it: the sites named in the routes'
 * paths, the links between consecutive sites of each path, and the services
 * of each site. Pure: no NATS, no clock.
 */
import type { InstanceView, ServiceView } from '../protocol/index.js';
import type { EndpointView } from './snapshot.js';

/** The key of the link between two sites: both names in alphabetical order, joined by `–`. */
export function linkKey(x: string, y: string): string {
  return x < y ? `${x}–${y}` : `${y}–${x}`;
}

/** The key of one direction of a link: `a→b`. */
export function directionKey(from: string, to: string): string {
  return `${from}→${to}`;
}

/** The pairs of consecutive sites of `sites`. */
export function hopsOf(sites: readonly string[]): [string, string][] {
  const hops: [string, string][] = [];
  for (let i = 1; i < sites.length; i++) hops.push([sites[i - 1] as string, sites[i] as string]);
  return hops;
}

/** An instance or route of the listing, as the traffic meter joins `$SRV.STATS` to it. */
export interface KnownEndpoint extends EndpointView {
  service: string;
  /** The site hosting the service. */
  site: string;
}

/** A link as the current listing shows it. */
export interface CurrentLink {
  a: string;
  b: string;
  /** Routes at the observer's site whose path crosses it. */
  routes: number;
}

/** One service at one site, without its traffic. */
export interface ServiceGroup {
  name: string;
  site: string;
  endpoints: KnownEndpoint[];
}

/** What one listing shows. */
export interface Topology {
  /** The observer's site. */
  site: string;
  /** Every site named, with the fewest bridges crossed to reach it (0 for the observer's). */
  sites: Map<string, number>;
  links: Map<string, CurrentLink>;
  /** Keyed by `service@site`. */
  services: Map<string, ServiceGroup>;
  /** Every instance and route, by id. */
  endpoints: Map<string, KnownEndpoint>;
}

/** Reads the topology out of the listing of `site`. */
export function topologyOf(site: string, services: readonly ServiceView[]): Topology {
  const topology: Topology = {
    site,
    sites: new Map([[site, 0]]),
    links: new Map(),
    services: new Map(),
    endpoints: new Map(),
  };
  for (const service of services) {
    for (const instance of service.instances) add(topology, instance);
  }
  return topology;
}

function add(topology: Topology, instance: InstanceView): void {
  const route = instance.path.length > 0;
  const endpoint: KnownEndpoint = {
    id: instance.id,
    service: instance.service,
    site: route ? instance.site : topology.site,
    version: instance.version,
    kind: route ? 'route' : 'instance',
    path: [...instance.path],
    methods: [...instance.methods],
    metadata: { ...instance.metadata },
  };
  topology.endpoints.set(endpoint.id, endpoint);
  const key = `${endpoint.service}@${endpoint.site}`;
  const group = topology.services.get(key);
  if (group) group.endpoints.push(endpoint);
  else
    topology.services.set(key, {
      name: endpoint.service,
      site: endpoint.site,
      endpoints: [endpoint],
    });
  for (const [i, name] of instance.path.entries()) {
    const hops = i + 1;
    if (hops < (topology.sites.get(name) ?? Number.POSITIVE_INFINITY))
      topology.sites.set(name, hops);
  }
  for (const [x, y] of hopsOf([topology.site, ...instance.path])) {
    const link = linkKey(x, y);
    const known = topology.links.get(link);
    if (known) {
      known.routes++;
      continue;
    }
    const [a, b] = x < y ? [x, y] : [y, x];
    topology.links.set(link, { a, b, routes: 1 });
  }
}
