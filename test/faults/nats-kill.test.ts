/**
 * Site b's nats-server SIGKILLed mid-load (the middle of the chain: both
 * bridges lose a side, b's broker its only server), restarted 4 s later on
 * the same port. Every component reconnects by itself; success back within
 * 2 s of the restart.
 */
import { test } from 'vitest';
import { Chain } from './chain.js';
import { describeFaults, expectCommon, runScenario } from './scenario.js';

await describeFaults('nats-server killed', () => {
  test('nats kill - site b’s nats-server SIGKILLed and restarted: everything reconnects, back within 2 s', async () => {
    const chain = await Chain.start({ scenario: 'nats-kill-b' });
    const nats = chain.servers.get('b')!;
    const run = await runScenario(chain, {
      name: 'nats-kill-b',
      proves:
        "losing a whole site's NATS in the middle of the chain fails calls fast and truthfully, and the mesh heals itself once the server is back",
      fault: () => nats.stop(),
      holdMs: 4_000,
      heal: () => nats.restart(),
      healAllowanceMs: 10_000,
    });
    expectCommon(run);
  });
});
