/** The panel under the picture: what the selected site or link is, in words. */
import type { LinkEdge, MeshSnapshot, SiteNode } from '../snapshot.js';
import { h } from './dom.js';
import { endpointList, versionsText } from './endpoints.js';
import { clock, errorRates, plural, rate } from './format.js';
import type { Selection } from './graph.js';

/**
 * Redraws `panel` for `selected` when what it would say has changed (a
 * redraw every second would move a screen reader's place, and close what
 * was opened).
 */
export function drawDetails(
  panel: HTMLElement,
  snapshot: MeshSnapshot,
  selected: Selection | undefined,
): void {
  const site =
    selected?.kind === 'site' ? snapshot.sites.find((x) => x.name === selected.key) : undefined;
  const link =
    selected?.kind === 'link' ? snapshot.links.find((x) => x.key === selected.key) : undefined;
  const content = site ? siteDetails(site, snapshot) : link ? linkDetails(link) : undefined;
  const sig = content ? JSON.stringify(content.sig) : '';
  if (panel.dataset.sig === sig) return;
  panel.dataset.sig = sig;
  panel.replaceChildren(
    ...(content?.nodes ?? [h('p', {}, 'Select a site or a link in the picture.')]),
  );
}

function siteDetails(site: SiteNode, snapshot: MeshSnapshot) {
  const services = snapshot.services.filter((x) => x.site === site.name);
  const state = site.here
    ? "this dashboard's site"
    : site.reachable
      ? `reachable, ${plural(site.hops, 'bridge')} away`
      : 'not reachable now: no route leads there';
  return {
    sig: [site, services.map((x) => [x.name, x.endpoints])],
    nodes: [
      h('h3', {}, `Site ${site.name}`),
      h('p', {}, state),
      services.length === 0
        ? h('p', {}, 'No service seen there.')
        : h(
            'ul',
            {},
            ...services.map((service) =>
              h(
                'li',
                {},
                h(
                  'details',
                  {},
                  h('summary', {}, `${service.name} ${versionsText(service)}`),
                  endpointList(service),
                ),
              ),
            ),
          ),
    ],
  };
}

function linkDetails(link: LinkEdge) {
  const there = `${link.a}→${link.b}`;
  const back = `${link.b}→${link.a}`;
  return {
    sig: [link, link.rates, link.errors],
    nodes: [
      h('h3', {}, `Link ${link.a}–${link.b}`),
      h(
        'p',
        {},
        `${link.state === 'up' ? 'Up' : 'Down'} since ${clock(link.since)}; ${plural(link.routes, 'route')} from here cross it.`,
      ),
      h(
        'p',
        {},
        link.direct
          ? 'A half of its bridge is attached to this site: its state is what the bridge says.'
          : 'Known from the routes across it: down means no route crosses it any more.',
      ),
      h(
        'p',
        {},
        `Calls ${there}: ${rate(link.rates[there] ?? 0)}; ${back}: ${rate(link.rates[back] ?? 0)}. Errors: ${errorRates(link.errors)}.`,
      ),
    ],
  };
}
