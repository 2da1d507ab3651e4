/**
 * Site b's broker SIGKILLed mid-load (the middle of the chain, where bridge
 * b–c advertises the route that bridge a–b relays), started again 4 s later.
 * Calls on cached routes should not notice; success back within 2 s of the
 * new broker.
 */
import { test } from 'vitest';
import { Chain } from './chain.js';
import { describeFaults, expectCommon, runScenario } from './scenario.js';

await describeFaults('broker killed', () => {
  test('broker kill - site b’s broker SIGKILLed and started again: calls go on, back within 2 s', async () => {
    const chain = await Chain.start({ scenario: 'broker-kill-b' });
    const run = await runScenario(chain, {
      name: 'broker-kill-b',
      proves:
        'a broker dying without a word at the middle site does not take the route through it down with it, and a new broker learns everything again',
      fault: () => chain.signal(chain.brokers.get('b')!, 'SIGKILL'),
      holdMs: 4_000,
      heal: () => chain.startBroker('b').then(() => undefined),
      healAllowanceMs: 10_000,
    });
    expectCommon(run);
  });
});
