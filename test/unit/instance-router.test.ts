/**
 * The instance router's filter by hosting site: kept for the sites that host
 * some instances, never for a name a caller made up.
 */
import { describe, expect, test } from 'vitest';
import { type CandidateSource, InstanceRouter, LoadBalancer } from '../../src/core/index.js';
import { subjectsFor } from '../../src/protocol/index.js';
import { instanceView } from '../support/memory-site.js';

const source: CandidateSource = {
  site: 'a',
  candidates: () => ({ site: 'a', instances: [] }),
  forget: () => {},
};

describe('instance router', () => {
  test('instance router - the instances of a hosting site are filtered once; a site hosting none is not remembered', () => {
    const router = new InstanceRouter(source, new LoadBalancer(), subjectsFor());
    const views = [instanceView('i1', { site: 'a' }), instanceView('i2', { site: 'b' })];
    const atA = router.atSite(views, 'a');
    expect(atA.map((v) => v.id)).toEqual(['i1']);
    expect(router.atSite(views, 'a')).toBe(atA);
    const none = router.atSite(views, 'made-up');
    expect(none).toEqual([]);
    expect(router.atSite(views, 'made-up')).not.toBe(none);
  });
});
