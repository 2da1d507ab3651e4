/**
 * Puts together what the page is sent: the sites and links remembered, the
 * services of the latest listing, and the traffic over the window. Pure.
 */
import type { MeshMemory } from './mesh-memory.js';
import type { ErrorRates, MeshSnapshot, ObserverState, ServiceAtSite } from './snapshot.js';
import type { ServiceGroup, Topology } from './topology.js';
import type { TrafficMeter } from './traffic.js';

/** What the observer knows at one moment. */
export interface ObserverView {
  state: ObserverState;
  message: string;
  nats: string;
  /** The latest listing's topology (undefined before the first one). */
  topology: Topology | undefined;
  memory: MeshMemory;
  traffic: TrafficMeter;
  windowMs: number;
  now: number;
}

/** The snapshot of `view`. */
export function buildSnapshot(view: ObserverView): MeshSnapshot {
  const { topology, now } = view;
  const rates = view.traffic.rates(now);
  const links = view.memory.links().map((link) => ({
    ...link,
    rates: {
      [`${link.a}→${link.b}`]: round(rates.directions.get(`${link.a}→${link.b}`) ?? 0),
      [`${link.b}→${link.a}`]: round(rates.directions.get(`${link.b}→${link.a}`) ?? 0),
    },
    errors: rounded(rates.linkErrors.get(link.key)),
  }));
  const services = topology
    ? [...topology.services.entries()]
        .map(([key, group]) =>
          serviceAt(
            group,
            topology.site,
            rates.serviceCalls.get(key) ?? 0,
            rates.serviceErrors.get(key),
          ),
        )
        .sort((x, y) => compare(x.site, y.site) || compare(x.name, y.name))
    : [];
  return {
    at: now,
    state: view.state,
    message: view.message,
    nats: view.nats,
    site: topology?.site ?? null,
    sites: view.memory.sites(),
    links,
    services,
    errors: view.traffic.recentErrors(),
    windowSeconds: view.windowMs / 1000,
  };
}

function serviceAt(
  group: ServiceGroup,
  here: string,
  rate: number,
  errors: Map<string, number> | undefined,
): ServiceAtSite {
  const versions = new Map<string, number>();
  for (const endpoint of group.endpoints) {
    versions.set(endpoint.version, (versions.get(endpoint.version) ?? 0) + 1);
  }
  return {
    name: group.name,
    site: group.site,
    instances: group.site === here ? group.endpoints.length : null,
    versions: [...versions]
      .map(([version, count]) => ({ version, count }))
      .sort((x, y) => compare(x.version, y.version)),
    endpoints: group.endpoints.map(({ id, version, kind, path, methods, metadata }) => ({
      id,
      version,
      kind,
      path,
      methods,
      metadata,
    })),
    rate: round(rate),
    errors: rounded(errors),
  };
}

/** Rates to 0.01 per second: what the page shows, and fewer changes to send. */
function round(rate: number): number {
  return Math.round(rate * 100) / 100;
}

function rounded(rates: Map<string, number> | undefined): ErrorRates {
  const out: ErrorRates = {};
  for (const [code, rate] of rates ?? []) out[code] = round(rate);
  return out;
}

function compare(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
