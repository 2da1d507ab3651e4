/**
 * Silent partitions: one link of the chain a–b–c cut mid-load by dropping
 * its packets (no RST, no FIN: what a dead switch or a firewall does), then
 * healed. Issue 10: first fast UNAVAILABLE ≤ 5 s after the cut, calls in
 * flight end at detection, success back within 2 s of the heal.
 */
import { test } from 'vitest';
import { Chain } from './chain.js';
import {
  describeFaults,
  expectCommon,
  expectDetection,
  partition,
  runScenario,
} from './scenario.js';

await describeFaults('silent partition', () => {
  test('partition - b–c cut silently mid-load: fast UNAVAILABLE within 5 s, back within 2 s of the heal', async () => {
    const chain = await Chain.start({ scenario: 'partition-bc' });
    const run = await runScenario(chain, {
      name: 'partition-bc',
      proves:
        'a silent cut between b and c (the far half of bridge b–c loses its site) is detected, routes through it are withdrawn, calls fail fast and come back after the heal',
      ...partition(chain, 'c'),
    });
    expectCommon(run);
    expectDetection(run);
  });

  test('partition - a–b cut silently mid-load: fast UNAVAILABLE within 5 s, back within 2 s of the heal', async () => {
    const chain = await Chain.start({ scenario: 'partition-ab' });
    const run = await runScenario(chain, {
      name: 'partition-ab',
      proves:
        "a silent cut between a and b (the caller's own bridge loses its site) is detected at a, calls fail fast and come back after the heal; the paced twin of the tight-loop scenario",
      ...partition(chain, 'a'),
    });
    expectCommon(run);
    expectDetection(run);
  });
});
