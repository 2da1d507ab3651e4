/**
 * The dashboard page: follows the server's live feed of snapshots and draws
 * each one (picture, tables, status), with no reload.
 */
import type { MeshSnapshot } from '../snapshot.js';
import { drawDetails } from './details.js';
import { setAttributes, setText } from './dom.js';
import { plural } from './format.js';
import { Graph, type Selection } from './graph.js';
import { drawTables } from './tables.js';

function byId<T extends Element>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as unknown as T;
}

const status = byId<HTMLElement>('status');
const where = byId<HTMLElement>('where');
const summary = byId<HTMLElement>('graph-summary');
const details = byId<HTMLElement>('details');
const main = document.querySelector('main') as HTMLElement;
const tables = {
  links: byId<HTMLTableElement>('links-table').tBodies[0] as HTMLTableSectionElement,
  services: byId<HTMLTableElement>('services-table').tBodies[0] as HTMLTableSectionElement,
  errors: byId<HTMLTableElement>('errors-table').tBodies[0] as HTMLTableSectionElement,
};
/** Services whose versions are open in the table, kept across redraws. */
const open = new Set<string>();
let latest: MeshSnapshot | undefined;
let selected: Selection | undefined;

const graph = new Graph(byId<SVGSVGElement>('graph'), (selection) => {
  selected = selection;
  if (latest) draw(latest);
});

document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && selected) {
    selected = undefined;
    if (latest) draw(latest);
  }
});

function draw(snapshot: MeshSnapshot): void {
  latest = snapshot;
  setText(where, snapshot.site === null ? '' : `seen from site ${snapshot.site}`);
  setAttributes(status, { 'data-state': snapshot.state });
  setText(status, statusLine(snapshot));
  main.classList.toggle('stale', snapshot.state !== 'live');
  graph.draw(snapshot, selected);
  setText(summary, describe(snapshot));
  drawDetails(details, snapshot, selected);
  drawTables(tables, snapshot, open);
}

function statusLine(snapshot: MeshSnapshot): string {
  switch (snapshot.state) {
    case 'live':
      return `Live: ${snapshot.message}. Rates over the last ${snapshot.windowSeconds} s.`;
    case 'no-broker':
      return `No broker to talk to: ${snapshot.message}. The picture is what was seen last.`;
    case 'no-nats':
      return `Not connected to NATS: ${snapshot.message}. The picture is what was seen last.`;
  }
}

/** The picture in one sentence, for those who do not see it. */
function describe(snapshot: MeshSnapshot): string {
  const sites = snapshot.sites.map((x) =>
    x.here ? `${x.name} (here)` : x.reachable ? x.name : `${x.name} (unreachable)`,
  );
  const links = snapshot.links.map((l) => `${l.a}–${l.b} ${l.state}`);
  return (
    `${plural(sites.length, 'site')}: ${sites.join(', ') || 'none yet'}. ` +
    `${plural(links.length, 'link')}${links.length > 0 ? `: ${links.join(', ')}` : ''}.`
  );
}

const feed = new EventSource('events');
feed.addEventListener('message', (event: MessageEvent<string>) => {
  let snapshot: MeshSnapshot;
  try {
    snapshot = JSON.parse(event.data) as MeshSnapshot;
  } catch {
    return;
  }
  draw(snapshot);
});
feed.addEventListener('error', () => {
  setAttributes(status, { 'data-state': 'offline' });
  setText(status, 'The dashboard server does not answer; trying again…');
  main.classList.add('stale');
});
