/** The instances or routes of one service, as a list a disclosure opens. */
import type { EndpointView, ServiceAtSite } from '../snapshot.js';
import { h } from './dom.js';
import { pathText } from './format.js';

/** `1.0.0 ×2, 1.1.0`: the versions of a service and how many offer each. */
export function versionsText(service: ServiceAtSite): string {
  return service.versions
    .map(({ version, count }) => (count > 1 ? `${version} ×${count}` : version))
    .join(', ');
}

/** A list of the endpoints of `service`: id, version, path, methods, metadata. */
export function endpointList(service: ServiceAtSite): HTMLElement {
  return h(
    'ul',
    { class: 'endpoints' },
    ...service.endpoints.map((e) => h('li', {}, ...endpoint(e))),
  );
}

function endpoint(e: EndpointView): Node[] {
  const where =
    e.kind === 'instance' ? `instance ${e.id}` : `route ${e.id} via ${pathText(e.path)}`;
  const facts: [string, string][] = [
    ['version', e.version],
    ['methods', e.methods.join(', ')],
    ...Object.entries(e.metadata).sort(([x], [y]) => (x < y ? -1 : 1)),
  ];
  return [
    document.createTextNode(where),
    h('dl', { class: 'meta' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
  ];
}
