/**
 * One of two counter instances at c SIGKILLed mid-load, for good. Its calls
 * in flight are lost (TIMEOUT/maybe at their deadline, unless ended early);
 * new calls must go to the other instance at once: success back within 2 s
 * of the kill.
 */
import { test } from 'vitest';
import { Chain } from './chain.js';
import { describeFaults, expectCommon, runScenario } from './scenario.js';

await describeFaults('instance killed', () => {
  test('instance kill - one of two instances SIGKILLed: the other takes the calls within 2 s', async () => {
    const chain = await Chain.start({ scenario: 'instance-kill', counters: 2 });
    const run = await runScenario(chain, {
      name: 'instance-kill',
      proves:
        'losing one of two instances costs only the calls it held; the survivor takes every new call at once, across two bridges',
      fault: () => chain.signal(chain.counters[0]!, 'SIGKILL'),
      afterMs: 6_000,
    });
    expectCommon(run);
  });
});
