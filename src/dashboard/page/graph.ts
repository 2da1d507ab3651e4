/**
 * The picture: sites as circles, links as lines, drawn in an SVG that is
 * kept and updated in place (so that keyboard focus stays put). Every site
 * and link is focusable, says what it is in its label, and selects itself
 * on Enter, Space or a click; the arrow keys move between them.
 */
import type { LinkEdge, MeshSnapshot, SiteNode } from '../snapshot.js';
import { s, setAttributes, setText } from './dom.js';
import { errorRates, plural, rate } from './format.js';
import { layout, type Point } from './layout.js';

/** What is selected: a site or a link, by name or key. */
export interface Selection {
  kind: 'site' | 'link';
  key: string;
}

const RADIUS = 34;
const MIN_WIDTH = 420;

/** Draws snapshots into one SVG element. */
export class Graph {
  readonly #svg: SVGSVGElement;
  readonly #edges: SVGGElement;
  readonly #nodes: SVGGElement;
  readonly #onSelect: (selection: Selection) => void;

  constructor(svg: SVGSVGElement, onSelect: (selection: Selection) => void) {
    this.#svg = svg;
    this.#onSelect = onSelect;
    this.#edges = s('g', { class: 'edges' });
    this.#nodes = s('g', { class: 'nodes' });
    svg.replaceChildren(this.#edges, this.#nodes);
    svg.addEventListener('keydown', (event) => this.#key(event));
    svg.addEventListener('click', (event) => {
      const item = (event.target as Element).closest('[data-site], [data-link]');
      if (item) this.#select(item);
    });
  }

  /** Draws `snapshot`, marking `selected`. */
  draw(snapshot: MeshSnapshot, selected: Selection | undefined): void {
    const { positions, width, height } = layout(snapshot.sites);
    setAttributes(this.#svg, { viewBox: `0 0 ${Math.max(MIN_WIDTH, width)} ${height}` });
    const services = new Map<string, number>();
    for (const service of snapshot.services) {
      services.set(service.site, (services.get(service.site) ?? 0) + 1);
    }
    sync(
      this.#edges,
      'data-link',
      snapshot.links.filter((l) => positions.has(l.a) && positions.has(l.b)),
      (link) => link.key,
      () => newEdge(),
      (g, link) => {
        drawEdge(g, link, positions.get(link.a) as Point, positions.get(link.b) as Point);
        g.classList.toggle('selected', selected?.kind === 'link' && selected.key === link.key);
      },
    );
    sync(
      this.#nodes,
      'data-site',
      snapshot.sites,
      (site) => site.name,
      () => newNode(),
      (g, site) => {
        drawNode(g, site, positions.get(site.name) as Point, services.get(site.name) ?? 0);
        g.classList.toggle('selected', selected?.kind === 'site' && selected.key === site.name);
      },
    );
  }

  #select(item: Element): void {
    const site = item.getAttribute('data-site');
    const link = item.getAttribute('data-link');
    if (site !== null) this.#onSelect({ kind: 'site', key: site });
    else if (link !== null) this.#onSelect({ kind: 'link', key: link });
  }

  #key(event: KeyboardEvent): void {
    const items = [
      ...this.#nodes.querySelectorAll<SVGGElement>('[data-site]'),
      ...this.#edges.querySelectorAll<SVGGElement>('[data-link]'),
    ];
    const current = (event.target as Element).closest('[data-site], [data-link]');
    const at = current ? items.indexOf(current as SVGGElement) : -1;
    let next: number | undefined;
    switch (event.key) {
      case 'Enter':
      case ' ':
        if (current) this.#select(current);
        event.preventDefault();
        return;
      case 'ArrowRight':
      case 'ArrowDown':
        next = (at + 1) % items.length;
        break;
      case 'ArrowLeft':
      case 'ArrowUp':
        next = (at - 1 + items.length) % items.length;
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = items.length - 1;
        break;
      default:
        return;
    }
    event.preventDefault();
    items[next]?.focus();
  }
}

/** Keeps one `<g>` per item under `layer`, keyed by `attribute`, in order. */
function sync<T>(
  layer: SVGGElement,
  attribute: string,
  items: readonly T[],
  key: (item: T) => string,
  create: () => SVGGElement,
  update: (g: SVGGElement, item: T) => void,
): void {
  const existing = new Map<string, SVGGElement>();
  for (const g of Array.from(layer.children) as SVGGElement[]) {
    existing.set(g.getAttribute(attribute) ?? '', g);
  }
  for (const item of items) {
    const k = key(item);
    let g = existing.get(k);
    existing.delete(k);
    if (!g) {
      g = create();
      g.setAttribute(attribute, k);
      layer.append(g);
    }
    update(g, item);
  }
  for (const stale of existing.values()) stale.remove();
}

function newEdge(): SVGGElement {
  return s(
    'g',
    { class: 'edge', tabindex: '0', role: 'button' },
    s('line', { class: 'link-hit' }),
    s('line', { class: 'link' }),
    s('text', { class: 'label state', 'text-anchor': 'middle' }),
    s('text', { class: 'label small forward', 'text-anchor': 'middle' }),
    s('text', { class: 'label small backward', 'text-anchor': 'middle' }),
    s('title'),
  );
}

function drawEdge(g: SVGGElement, link: LinkEdge, from: Point, to: Point): void {
  const [hit, line, state, forward, backward, title] = Array.from(g.children) as SVGElement[];
  const ends = { x1: `${from.x}`, y1: `${from.y}`, x2: `${to.x}`, y2: `${to.y}` };
  setAttributes(hit as SVGElement, ends);
  setAttributes(line as SVGElement, { ...ends, class: `link ${link.state}` });
  const mid = { x: (from.x + to.x) / 2, y: (from.y + to.y) / 2 };
  const there = `${link.a}→${link.b}`;
  const back = `${link.b}→${link.a}`;
  const forwardRate = link.rates[there] ?? 0;
  const backwardRate = link.rates[back] ?? 0;
  setAttributes(state as SVGElement, {
    x: `${mid.x}`,
    y: `${mid.y - 10}`,
    class: `label state state-${link.state}`,
  });
  setText(state as SVGElement, link.state === 'up' ? 'up' : '✕ down');
  setAttributes(forward as SVGElement, { x: `${mid.x}`, y: `${mid.y + 20}`, 'data-dir': there });
  setText(forward as SVGElement, `${there} ${rate(forwardRate)}`);
  setAttributes(backward as SVGElement, { x: `${mid.x}`, y: `${mid.y + 34}`, 'data-dir': back });
  setText(backward as SVGElement, `${back} ${rate(backwardRate)}`);
  const label =
    `link ${link.a}–${link.b} ${link.state}, ${plural(link.routes, 'route')} from here; ` +
    `calls ${there} ${rate(forwardRate)}, ${back} ${rate(backwardRate)}; ` +
    `errors ${errorRates(link.errors)}`;
  setText(title as SVGElement, label);
  setAttributes(g, { 'aria-label': label, 'data-state': link.state });
}

function newNode(): SVGGElement {
  return s(
    'g',
    { class: 'node', tabindex: '0', role: 'button' },
    s('circle', { class: 'ring', r: `${RADIUS + 7}` }),
    s('circle', { class: 'site', r: `${RADIUS}` }),
    s('text', { class: 'label name', 'text-anchor': 'middle' }),
    s('text', { class: 'label small', 'text-anchor': 'middle' }),
    s('title'),
  );
}

function drawNode(g: SVGGElement, site: SiteNode, at: Point, services: number): void {
  const [ring, circle, name, note, title] = Array.from(g.children) as SVGElement[];
  const x = `${at.x}`;
  setAttributes(ring as SVGElement, {
    cx: x,
    cy: `${at.y}`,
    visibility: site.here ? undefined : 'hidden',
  });
  const kind = site.here ? 'site here' : site.reachable ? 'site' : 'site gone';
  setAttributes(circle as SVGElement, { cx: x, cy: `${at.y}`, class: kind });
  setAttributes(name as SVGElement, { x, y: `${at.y + 6}` });
  setText(name as SVGElement, site.name);
  setAttributes(note as SVGElement, { x, y: `${at.y + RADIUS + 22}` });
  const what = site.reachable ? plural(services, 'service') : 'unreachable';
  setText(note as SVGElement, site.here ? `here · ${what}` : what);
  const label = site.here
    ? `site ${site.name}, this dashboard's site, ${plural(services, 'service')}`
    : site.reachable
      ? `site ${site.name}, ${plural(site.hops, 'bridge')} away, ${plural(services, 'service')}`
      : `site ${site.name}, not reachable now`;
  setText(title as SVGElement, label);
  setAttributes(g, { 'aria-label': label, 'data-reachable': String(site.reachable) });
}
