/**
 * What the dashboard's page is sent: the mesh as seen from one site, whole,
 * at each change. Types only: the page (a browser bundle) imports them too.
 * Every string in it may come from the network; the page shows them as text.
 */

/** Whether the observer can see its site. */
export type ObserverState =
  /** Not connected to the site's NATS (yet, or any more). */
  | 'no-nats'
  /** Connected, but no broker answers on the site. */
  | 'no-broker'
  /** Connected, and a broker answers. */
  | 'live';

/** A site of the mesh. */
export interface SiteNode {
  name: string;
  /** The observer's own site. */
  here: boolean;
  /** Some route leads there now (always true for the observer's site). */
  reachable: boolean;
  /** Bridges crossed from the observer's site on the shortest path known (0 here). */
  hops: number;
}

/** Calls per second, keyed by direction (`a→b`), over the last seconds. */
export type DirectedRates = Record<string, number>;
/** Errors per second, keyed by error code (`?` when the peer did not say). */
export type ErrorRates = Record<string, number>;

/** A bridge between two sites, as the routes through it show it. */
export interface LinkEdge {
  /** `a–b`: the two sites in alphabetical order. */
  key: string;
  a: string;
  b: string;
  /**
   * With a bridge half attached to the observer's site (`direct`): `up`
   * while the half says it is linked or routes cross it. Further out: `up`
   * while some route crosses it, `down` once none does.
   */
  state: 'up' | 'down';
  /** A half of this link's bridge is attached to the observer's site. */
  direct: boolean;
  /** Routes at the observer's site whose path crosses this link. */
  routes: number;
  /** Epoch ms of the last change of state. */
  since: number;
  /** Calls per second across it, per direction (`a→b`, `b→a`). */
  rates: DirectedRates;
  /** Calls across it that failed, per second, by error code. */
  errors: ErrorRates;
}

/** One instance of a service at the observer's site, or one route to it. */
export interface EndpointView {
  id: string;
  version: string;
  kind: 'instance' | 'route';
  /** Sites a call crosses from the observer's site, nearest first (empty for an instance here). */
  path: string[];
  methods: string[];
  metadata: Record<string, string>;
}

/** One service at one site. */
export interface ServiceAtSite {
  name: string;
  /** The site hosting it. */
  site: string;
  /** Instances at the observer's site; for a remote site, not known (null). */
  instances: number | null;
  /** Versions reachable, with the instances (here) or routes (elsewhere) offering each. */
  versions: { version: string; count: number }[];
  /** Instances here, or routes to it from here. */
  endpoints: EndpointView[];
  /** Calls per second seen by the observer's site to this service (or to its instances here). */
  rate: number;
  /** Failed calls per second, by code. */
  errors: ErrorRates;
}

/** One error seen in `$SRV.STATS`: the last of one endpoint's new failures. */
export interface RecentError {
  /** Epoch ms when the observer noticed it. */
  at: number;
  service: string;
  method: string;
  code: string;
  message: string;
  /** Site where the error arose (as the error says; else the endpoint's). */
  origin: string;
  /** PATH of the call where the error arose (origin first), when known. */
  path: string[] | null;
  /** Failures of this endpoint since the previous look (only the last one's text is known). */
  count: number;
  /** Where the observer saw it: an instance here, or a route from here. */
  via: 'instance' | 'route';
}

/** The whole picture, as sent to the page. */
export interface MeshSnapshot {
  /** Epoch ms of the snapshot. */
  at: number;
  state: ObserverState;
  /** In words: what the observer sees, or why it sees nothing. */
  message: string;
  /** The NATS URL(s) observed. */
  nats: string;
  /** The observer's site, once a broker named it. */
  site: string | null;
  sites: SiteNode[];
  links: LinkEdge[];
  services: ServiceAtSite[];
  /** Newest first. */
  errors: RecentError[];
  /** Seconds over which rates are averaged. */
  windowSeconds: number;
}
