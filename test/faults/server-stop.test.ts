/**
 * One of two counter instances at c SIGSTOPped mid-load (it neither answers
 * nor heartbeats, its connection stays open), SIGCONTed 5 s later. Issue 10:
 * its pending calls end UNAVAILABLE/maybe once the registry announces it
 * down, idempotent ones are retried on the other instance; a call it ran
 * late is never reported `no`; success within 2 s of SIGCONT.
 */
import { test } from 'vitest';
import { Chain } from './chain.js';
import { describeFaults, expectCommon, runScenario } from './scenario.js';

await describeFaults('server stopped', () => {
  test('server stop - one of two instances SIGSTOPped then SIGCONTed: the other serves, back within 2 s', async () => {
    const chain = await Chain.start({ scenario: 'server-stop', counters: 2 });
    const frozen = chain.counters[0]!;
    const run = await runScenario(chain, {
      name: 'server-stop',
      proves:
        'an instance that freezes (no answers, no heartbeats, connection open) is avoided once noticed, what it ran late is never reported as not run, and it rejoins after SIGCONT',
      fault: () => chain.signal(frozen, 'SIGSTOP'),
      holdMs: 5_000,
      heal: () => chain.signal(frozen, 'SIGCONT'),
    });
    expectCommon(run);
  });
});
