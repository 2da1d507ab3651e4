/**
 * What the observer has seen of the mesh since it started: a link stays on
 * the picture once seen, `down` while nothing shows it working; a site
 * stays, unreachable while no route or bridge leads there. Pure: the caller
 * gives the time.
 *
 * A link with a bridge half attached here is known directly: up while the
 * half says it is linked (or routes cross it). A link further out is known
 * only through the routes that cross it: up while some do, down once none
 * does (which may also mean nothing is left beyond it to carry).
 */
import type { LinkEdge, SiteNode } from './snapshot.js';
import type { BridgePresence } from './stats-reply.js';
import { linkKey, type Topology } from './topology.js';

interface RememberedLink {
  a: string;
  b: string;
  state: 'up' | 'down';
  since: number;
  routes: number;
  direct: boolean;
}

/** Sites and links seen so far, with their state now. */
export class MeshMemory {
  #site: string | undefined;
  /** Site → fewest hops seen (kept while unreachable, for the layout). */
  readonly #sites = new Map<string, { hops: number; reachable: boolean }>();
  readonly #links = new Map<string, RememberedLink>();

  /**
   * Takes in the topology of the latest listing and the bridge halves that
   * answered the latest look at the site, seen at `now`.
   */
  update(topology: Topology, bridges: readonly BridgePresence[], now: number): void {
    if (this.#site !== topology.site) {
      // Another site answers on this NATS: what was seen from the old one is not ours.
      this.#site = topology.site;
      this.#sites.clear();
      this.#links.clear();
    }
    const here = topology.site;
    const sites = new Map(topology.sites);
    const linked = new Map<string, { a: string; b: string; routes: number; direct: boolean }>();
    for (const [key, current] of topology.links) linked.set(key, { ...current, direct: false });
    for (const bridge of bridges) {
      if (bridge.site !== here) continue;
      const key = linkKey(here, bridge.peer);
      const [a, b] = here < bridge.peer ? [here, bridge.peer] : [bridge.peer, here];
      const known = linked.get(key) ?? { a, b, routes: 0, direct: true };
      known.direct = true;
      // A half whose other side lost its NATS carries nothing: only its routes say otherwise.
      if (bridge.peerConnected || known.routes > 0) {
        linked.set(key, known);
        if (!sites.has(bridge.peer)) sites.set(bridge.peer, 1);
      } else {
        this.#markDirect(key, a, b, now);
      }
    }
    for (const site of this.#sites.values()) site.reachable = false;
    for (const [name, hops] of sites) this.#sites.set(name, { hops, reachable: true });
    for (const [key, link] of this.#links) {
      if (linked.has(key)) continue;
      link.routes = 0;
      if (link.state === 'up') Object.assign(link, { state: 'down', since: now });
    }
    for (const [key, current] of linked) {
      const link = this.#links.get(key);
      if (!link) {
        this.#links.set(key, { ...current, state: 'up', since: now });
        continue;
      }
      link.routes = current.routes;
      link.direct ||= current.direct;
      if (link.state === 'down') Object.assign(link, { state: 'up', since: now });
    }
  }

  /** Remembers a link a bridge half here names, though it is not working. */
  #markDirect(key: string, a: string, b: string, now: number): void {
    const link = this.#links.get(key);
    if (link) link.direct = true;
    else this.#links.set(key, { a, b, state: 'down', since: now, routes: 0, direct: true });
    const peer = a === this.#site ? b : a;
    if (!this.#sites.has(peer)) this.#sites.set(peer, { hops: 1, reachable: false });
  }

  /** Every site seen, nearest first, then by name. */
  sites(): SiteNode[] {
    return [...this.#sites]
      .map(([name, { hops, reachable }]) => ({ name, here: name === this.#site, reachable, hops }))
      .sort((x, y) => x.hops - y.hops || compare(x.name, y.name));
  }

  /** Every link seen, by key, without traffic. */
  links(): Omit<LinkEdge, 'rates' | 'errors'>[] {
    return [...this.#links]
      .map(([key, { a, b, state, since, routes, direct }]) => ({
        key,
        a,
        b,
        state,
        since,
        routes,
        direct,
      }))
      .sort((x, y) => compare(x.key, y.key));
  }
}

function compare(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
