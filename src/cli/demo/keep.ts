import type { DemoSite } from './mesh.js';
import type { Narrator } from './narrator.js';

/** Commands to try against the running mesh from another terminal (`demo --keep`). */
export function tryThis(say: Narrator, sites: readonly DemoSite[], dashboardUrl: string): void {
  const [a, b, c] = sites as [DemoSite, DemoSite, DemoSite];
  const lines = [
    `switchboard call calculator.add 1 2 --nats ${a.url}`,
    `switchboard call calculator.divide 1 0 --nats ${a.url}`,
    `switchboard ls --mesh --nats ${a.url}`,
    `switchboard ls --nats ${c.url}`,
    `switchboard serve-example --service-version 1.1.0 --nats ${c.url}`,
    `switchboard serve-example --nats ${b.url}        # nearer to site a: 1 hop`,
    `switchboard bridge --local ${a.url} --remote ${c.url}   # a shortcut from a to c`,
  ];
  say.line('\nThe mesh keeps running.');
  say.line(`Its dashboard, the mesh as site ${a.name} sees it, live: ${dashboardUrl}`);
  say.line('From another terminal, try:');
  for (const line of lines) say.line(`  ${line}`);
  say.line('(From a checkout of Switchboard, use `node dist/cli/main.js` for `switchboard`.)');
  say.line('Press Ctrl-C to stop.');
}
