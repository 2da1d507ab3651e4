/**
 * A client that retries at once: the same a–b partition as
 * partition.test.ts, but every worker calls again the moment a call fails,
 * with no pause. Issue 10: failures are never delivered without yielding to
 * the event loop, so a tight loop recovers as fast as a paced one (within
 * 2 s of the heal).
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

await describeFaults('tight retry loop', () => {
  test('tight loop - retrying with no pause across an a–b cut recovers within 2 s of the heal', async () => {
    const chain = await Chain.start({ scenario: 'tight-loop-ab' });
    const run = await runScenario(chain, {
      name: 'tight-loop-ab',
      proves:
        'a caller that retries the moment a call fails (no pause) still sees the service come back after the heal, as fast as a paced one (compare partition-ab)',
      periodMs: 0,
      ...partition(chain, 'a'),
    });
    expectCommon(run);
    expectDetection(run);
  });
});
