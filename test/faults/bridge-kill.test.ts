/**
 * Bridge b–c SIGKILLed mid-load (no goodbye: its routes at b stay until
 * their leases expire), started again 4 s later. Issue 10: a live service
 * reads UNAVAILABLE, never SERVICE_NOT_FOUND; success back within 2 s of
 * the new bridge linking the sites.
 */
import { test } from 'vitest';
import { Chain } from './chain.js';
import { describeFaults, expectCommon, runScenario } from './scenario.js';

await describeFaults('bridge killed', () => {
  test('bridge kill - bridge b–c SIGKILLed and started again: truthful errors, back within 2 s', async () => {
    const chain = await Chain.start({ scenario: 'bridge-kill-bc' });
    const run = await runScenario(chain, {
      name: 'bridge-kill-bc',
      proves:
        'a bridge that dies without a word is noticed, its routes go, callers read UNAVAILABLE (never SERVICE_NOT_FOUND), and a new bridge brings the service back',
      fault: () => chain.signal(chain.bridges.get('bc')!, 'SIGKILL'),
      holdMs: 4_000,
      heal: () => chain.startBridge('bc').then(() => undefined),
      healAllowanceMs: 10_000,
    });
    expectCommon(run);
  });
});
