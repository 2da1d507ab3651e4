/**
 * The table view: links, services and recent errors as text, the
 * alternative to the picture. Rows are kept by key and cells redrawn only
 * when what they say changes.
 */
import type { MeshSnapshot, RecentError, ServiceAtSite } from '../snapshot.js';
import { type Cell, h, type Row, syncRows } from './dom.js';
import { endpointList, versionsText } from './endpoints.js';
import { clock, errorRates, pathText, rate } from './format.js';

/** The three tables' bodies. */
export interface Tables {
  links: HTMLTableSectionElement;
  services: HTMLTableSectionElement;
  errors: HTMLTableSectionElement;
}

function text(value: string, attributes?: Cell['attributes'], header = false): Cell {
  return { sig: value, header, attributes, render: (cell) => cell.append(value) };
}

/** Fills the tables from `snapshot`; `open` holds the services whose versions are shown. */
export function drawTables(tables: Tables, snapshot: MeshSnapshot, open: Set<string>): void {
  syncRows(
    tables.links,
    snapshot.links.map((link) => {
      const there = `${link.a}→${link.b}`;
      const back = `${link.b}→${link.a}`;
      return {
        key: link.key,
        cells: [
          text(`${link.a}–${link.b}`, undefined, true),
          text(link.state, { class: `state-${link.state}`, 'data-col': 'state' }),
          text(String(link.routes), { class: 'num' }),
          text(`${there}: ${rate(link.rates[there] ?? 0)}`, { 'data-dir': there }),
          text(`${back}: ${rate(link.rates[back] ?? 0)}`, { 'data-dir': back }),
          text(errorRates(link.errors)),
        ],
      };
    }),
    'No link seen yet: no route leads out of this site.',
  );
  syncRows(
    tables.services,
    snapshot.services.map((service) => serviceRow(service, open)),
    snapshot.state === 'live' ? 'No service registered or reachable.' : 'Nothing seen yet.',
  );
  syncRows(tables.errors, errorRows(snapshot.errors), 'No error seen.');
}

function serviceRow(service: ServiceAtSite, open: Set<string>): Row {
  const key = `${service.name}@${service.site}`;
  const versions: Cell = {
    sig: JSON.stringify(service.endpoints),
    render: (cell) => {
      const details = h(
        'details',
        { title: `versions: ${versionsText(service)}` },
        h('summary', {}, versionsText(service)),
        endpointList(service),
      );
      details.open = open.has(key);
      details.addEventListener('toggle', () => {
        if (details.open) open.add(key);
        else open.delete(key);
      });
      cell.append(details);
    },
  };
  return {
    key,
    cells: [
      text(service.name, undefined, true),
      text(service.site, { 'data-col': 'site' }),
      text(
        service.instances === null
          ? `${service.endpoints.length} route${service.endpoints.length === 1 ? '' : 's'} (instances there not visible)`
          : String(service.instances),
      ),
      versions,
      text(rate(service.rate), { class: 'num' }),
      text(errorRates(service.errors)),
    ],
  };
}

function errorRows(errors: readonly RecentError[]): Row[] {
  const seen = new Map<string, number>();
  return errors.map((e) => {
    const base = `${e.at} ${e.via} ${e.service}.${e.method}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return {
      key: `${base} ${n}`,
      cells: [
        text(clock(e.at)),
        text(`${e.service}.${e.method}`, undefined, true),
        text(e.code === '?' ? 'unknown' : e.code),
        text(e.message, { class: 'message' }),
        text(e.origin),
        text(e.path ? pathText(e.path) : 'not known'),
        text(String(e.count), { class: 'num' }),
      ],
    };
  });
}
