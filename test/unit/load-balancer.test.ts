import { describe, expect, test } from 'vitest';
import { BALANCE_POLICIES, LoadBalancer } from '../../src/core/load-balancer.js';
import type { InstanceView } from '../../src/protocol/envelopes.js';
import { instanceView } from '../support/memory-site.js';

function inst(id: string, hops = 0): InstanceView {
  const path = Array.from({ length: hops }, (_, i) => `s${i + 1}`);
  return instanceView(id, { site: hops === 0 ? 'a' : (path[path.length - 1] ?? 'a'), path, hops });
}

/** Ids picked by `n` calls. */
function picks(
  lb: LoadBalancer,
  instances: InstanceView[],
  n: number,
  exclude?: ReadonlySet<string>,
): (string | undefined)[] {
  return Array.from({ length: n }, () => lb.pick(instances, exclude)?.id);
}

function counts(values: (string | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}

describe('load balancer', () => {
  test('load balancer - defaults to round-robin', () => {
    expect(new LoadBalancer().policy).toBe('round-robin');
    expect(BALANCE_POLICIES).toEqual(['round-robin', 'least-outstanding']);
  });

  describe.each(BALANCE_POLICIES)('%s', (policy) => {
    test(`load balancer - ${policy} prefers local instances over remote ones`, () => {
      const lb = new LoadBalancer(policy);
      const list = [inst('remote1', 1), inst('local', 0), inst('remote2', 2)];
      expect(new Set(picks(lb, list, 20))).toEqual(new Set(['local']));
    });

    test(`load balancer - ${policy} prefers the fewest hops among remote instances`, () => {
      const lb = new LoadBalancer(policy);
      const list = [inst('far', 3), inst('near1', 1), inst('mid', 2), inst('near2', 1)];
      expect(new Set(picks(lb, list, 20))).toEqual(new Set(['near1', 'near2']));
    });

    test(`load balancer - ${policy} falls back to farther instances when near ones are excluded`, () => {
      const lb = new LoadBalancer(policy);
      const list = [inst('local', 0), inst('near', 1), inst('far', 2)];
      expect(lb.pick(list, new Set(['local']))?.id).toBe('near');
      expect(lb.pick(list, new Set(['local', 'near']))?.id).toBe('far');
    });

    test(`load balancer - ${policy} exclude skips ids`, () => {
      const lb = new LoadBalancer(policy);
      const list = [inst('a'), inst('b'), inst('c')];
      const got = picks(lb, list, 30, new Set(['b']));
      expect(counts(got)).toEqual({ a: 15, c: 15 });
    });

    test(`load balancer - ${policy} returns undefined when all are excluded or the list is empty`, () => {
      const lb = new LoadBalancer(policy);
      expect(lb.pick([])).toBeUndefined();
      expect(lb.pick([], new Set(['a']))).toBeUndefined();
      expect(lb.pick([inst('a'), inst('b', 1)], new Set(['a', 'b']))).toBeUndefined();
    });

    test(`load balancer - ${policy} cycles evenly over equal candidates`, () => {
      const lb = new LoadBalancer(policy);
      const list = [inst('a'), inst('b'), inst('c'), inst('d', 1)];
      const got = picks(lb, list, 300);
      expect(counts(got)).toEqual({ a: 100, b: 100, c: 100 });
      // Every window of 3 consecutive picks covers all three.
      for (let i = 0; i + 3 <= got.length; i++) {
        expect(new Set(got.slice(i, i + 3)).size).toBe(3);
      }
    });

    test(`load balancer - ${policy} picks the only candidate every time`, () => {
      const lb = new LoadBalancer(policy);
      expect(picks(lb, [inst('solo')], 5)).toEqual(['solo', 'solo', 'solo', 'solo', 'solo']);
    });
  });

  test('load balancer - round-robin visits candidates in list order', () => {
    const lb = new LoadBalancer('round-robin');
    const list = [inst('a'), inst('x', 1), inst('b'), inst('c')];
    expect(picks(lb, list, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  test('load balancer - a pick with no candidate does not move the turn on', () => {
    const lb = new LoadBalancer('round-robin');
    const list = [inst('a'), inst('b')];
    expect(lb.pick(list)?.id).toBe('a');
    expect(lb.pick([])).toBeUndefined();
    expect(lb.pick(list)?.id).toBe('b');
    expect(lb.pick(list, new Set(['a', 'b']))).toBeUndefined();
    expect(lb.pick(list)?.id).toBe('a');
  });

  test('load balancer - round-robin ignores calls in flight', () => {
    const lb = new LoadBalancer('round-robin');
    lb.begin('a');
    lb.begin('a');
    expect(picks(lb, [inst('a'), inst('b')], 4)).toEqual(['a', 'b', 'a', 'b']);
  });

  test('load balancer - least-outstanding picks the instance with fewest calls in flight', () => {
    const lb = new LoadBalancer('least-outstanding');
    const list = [inst('a'), inst('b'), inst('c')];
    lb.begin('a');
    lb.begin('a');
    lb.begin('b');
    for (let i = 0; i < 5; i++) expect(lb.pick(list)?.id).toBe('c');
    lb.begin('c');
    lb.begin('c');
    for (let i = 0; i < 5; i++) expect(lb.pick(list)?.id).toBe('b');
    lb.end('a');
    lb.end('a');
    for (let i = 0; i < 5; i++) expect(lb.pick(list)?.id).toBe('a');
  });

  test('load balancer - least-outstanding spreads calls that stay in flight', () => {
    const lb = new LoadBalancer('least-outstanding');
    const list = [inst('a'), inst('b'), inst('c')];
    for (let i = 0; i < 9; i++) {
      const chosen = lb.pick(list);
      expect(chosen).toBeDefined();
      if (chosen) lb.begin(chosen.id);
    }
    expect([lb.outstanding('a'), lb.outstanding('b'), lb.outstanding('c')]).toEqual([3, 3, 3]);
  });

  test('load balancer - least-outstanding rotates ties', () => {
    const lb = new LoadBalancer('least-outstanding');
    const list = [inst('a'), inst('b'), inst('c'), inst('d')];
    expect(picks(lb, list, 8)).toEqual(['a', 'b', 'c', 'd', 'a', 'b', 'c', 'd']);
    // With one busy instance the idle ones still take turns, and the busy one is never picked.
    lb.begin('d');
    const got = picks(lb, list, 12);
    expect(got).not.toContain('d');
    expect(new Set(got.slice(0, 3))).toEqual(new Set(['a', 'b', 'c']));
    expect(new Set(got)).toEqual(new Set(['a', 'b', 'c']));
  });

  test('load balancer - least-outstanding counts only the nearest instances', () => {
    const lb = new LoadBalancer('least-outstanding');
    lb.begin('local');
    lb.begin('local');
    expect(lb.pick([inst('remote', 1), inst('local', 0)])?.id).toBe('local');
  });

  test('load balancer - least-outstanding respects exclude', () => {
    const lb = new LoadBalancer('least-outstanding');
    lb.begin('b');
    const list = [inst('a'), inst('b')];
    expect(lb.pick(list, new Set(['a']))?.id).toBe('b');
  });

  test('load balancer - begin and end count calls in flight', () => {
    const lb = new LoadBalancer('least-outstanding');
    expect(lb.outstanding('a')).toBe(0);
    lb.begin('a');
    lb.begin('a');
    expect(lb.outstanding('a')).toBe(2);
    lb.end('a');
    expect(lb.outstanding('a')).toBe(1);
    lb.end('a');
    expect(lb.outstanding('a')).toBe(0);
  });

  test('load balancer - end never goes negative', () => {
    const lb = new LoadBalancer('least-outstanding');
    lb.end('ghost');
    lb.end('ghost');
    expect(lb.outstanding('ghost')).toBe(0);
    lb.begin('a');
    lb.end('a');
    lb.end('a');
    lb.end('a');
    expect(lb.outstanding('a')).toBe(0);
    lb.begin('a');
    expect(lb.outstanding('a')).toBe(1);
    // An instance with extra end()s is not favoured over an idle one.
    lb.end('a');
    lb.end('a');
    const list = [inst('a'), inst('b')];
    expect(counts(picks(lb, list, 10))).toEqual({ a: 5, b: 5 });
  });
});

describe('load balancer - outlier ejection', () => {
  function clocked() {
    const clock = { t: 1_000_000 };
    const lb = new LoadBalancer(
      'round-robin',
      { consecutiveTimeouts: 3, baseEjectionMs: 1000, maxEjectionMs: 3000 },
      () => clock.t,
    );
    return { clock, lb };
  }

  test('load balancer - three timeouts in a row eject an instance while others remain', () => {
    const { clock, lb } = clocked();
    const list = [inst('bad'), inst('good')];
    lb.timedOut('bad');
    lb.timedOut('bad');
    expect(lb.isEjected('bad')).toBe(false);
    lb.timedOut('bad');
    expect(lb.isEjected('bad')).toBe(true);
    expect(counts(picks(lb, list, 6))).toEqual({ good: 6 });
    clock.t += 999;
    expect(lb.isEjected('bad')).toBe(true);
    clock.t += 1;
    expect(lb.isEjected('bad')).toBe(false);
    expect(counts(picks(lb, list, 6))).toEqual({ bad: 3, good: 3 });
  });

  test('load balancer - an answer breaks the streak', () => {
    const { lb } = clocked();
    lb.timedOut('x');
    lb.timedOut('x');
    lb.answered('x');
    lb.timedOut('x');
    lb.timedOut('x');
    expect(lb.isEjected('x')).toBe(false);
    lb.timedOut('x');
    expect(lb.isEjected('x')).toBe(true);
  });

  test('load balancer - ejections double up to the maximum', () => {
    const { clock, lb } = clocked();
    const eject = () => {
      for (let i = 0; i < 3; i++) lb.timedOut('x');
    };
    const ejectedFor = () => {
      const start = clock.t;
      while (lb.isEjected('x')) clock.t += 100;
      return clock.t - start;
    };
    eject();
    expect(ejectedFor()).toBe(1000);
    eject();
    expect(ejectedFor()).toBe(2000);
    eject();
    expect(ejectedFor()).toBe(3000);
    eject();
    expect(ejectedFor()).toBe(3000);
  });

  test('load balancer - an answer while ejected ends the streak, not the ejection', () => {
    const { clock, lb } = clocked();
    for (let i = 0; i < 3; i++) lb.timedOut('x');
    lb.timedOut('x');
    lb.timedOut('x');
    lb.answered('x');
    expect(lb.isEjected('x')).toBe(true);
    clock.t += 1000;
    lb.timedOut('x');
    expect(lb.isEjected('x')).toBe(false);
  });

  test('load balancer - an answer once the ejection is over forgets it: the next one is the base length', () => {
    const { clock, lb } = clocked();
    for (let i = 0; i < 3; i++) lb.timedOut('x');
    clock.t += 1000;
    lb.answered('x');
    for (let i = 0; i < 3; i++) lb.timedOut('x');
    clock.t += 999;
    expect(lb.isEjected('x')).toBe(true);
    clock.t += 1;
    expect(lb.isEjected('x')).toBe(false);
  });

  test('load balancer - exclude still applies while some instance has timed out', () => {
    const { lb } = clocked();
    lb.timedOut('elsewhere');
    expect(picks(lb, [inst('a'), inst('b')], 4, new Set(['a']))).toEqual(['b', 'b', 'b', 'b']);
  });

  test('load balancer - the timeouts of at most 10,000 instances are remembered, the oldest forgotten first', () => {
    const { lb } = clocked();
    lb.timedOut('first');
    lb.timedOut('first');
    for (let i = 0; i < 10_000; i++) lb.timedOut(`other${i}`);
    lb.timedOut('first');
    expect(lb.isEjected('first')).toBe(false);
    lb.timedOut('other9999');
    lb.timedOut('other9999');
    expect(lb.isEjected('other9999')).toBe(true);
  });

  test('load balancer - when every candidate is ejected, they are picked anyway', () => {
    const { lb } = clocked();
    for (const id of ['a', 'b']) for (let i = 0; i < 3; i++) lb.timedOut(id);
    expect(counts(picks(lb, [inst('a'), inst('b')], 4))).toEqual({ a: 2, b: 2 });
  });

  test('load balancer - ejection counts only among candidates not excluded', () => {
    const { lb } = clocked();
    for (let i = 0; i < 3; i++) lb.timedOut('bad');
    const list = [inst('bad'), inst('good')];
    expect(lb.pick(list, new Set(['good']))?.id).toBe('bad');
  });
});
