/**
 * One of two counter instances at c stalls mid-load: it keeps heartbeating
 * (the registry sees it alive) but answers nothing; 6 s later it works
 * again. Issue 10: an instance that times out calls in a row is avoided for
 * a while (outlier ejection) while another exists, so success comes back
 * during the stall, not only after it.
 */
import { test } from 'vitest';
import { Chain } from './chain.js';
import { describeFaults, expectCommon, runScenario } from './scenario.js';

await describeFaults('stalled instance', () => {
  test('stalled instance - one of two heartbeats but answers nothing: it is avoided, back within 2 s', async () => {
    const chain = await Chain.start({ scenario: 'stalled-instance', counters: 2 });
    const stalled = chain.counters[0]!;
    const run = await runScenario(chain, {
      name: 'stalled-instance',
      proves:
        'an instance that looks alive (heartbeats) but answers nothing is ejected after a few timeouts while the other serves, and taken back once it answers again',
      fault: () => stalled.request('stall', { on: true }).then(() => undefined),
      holdMs: 6_000,
      heal: () => stalled.request('stall', { on: false }).then(() => undefined),
    });
    expectCommon(run);
  });
});
