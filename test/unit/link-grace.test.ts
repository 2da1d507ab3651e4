import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { type GracefulLinkState, linkGrace } from '../../src/transport/index.js';

describe('link grace', () => {
  let seen: GracefulLinkState[];
  beforeEach(() => {
    vi.useFakeTimers();
    seen = [];
  });
  afterEach(() => vi.useRealTimers());

  test('link grace - back within the grace is moved, and nothing is lost', () => {
    const grace = linkGrace(1_000, (state) => seen.push(state));
    grace.onState('down');
    vi.advanceTimersByTime(999);
    grace.onState('up');
    vi.advanceTimersByTime(5_000);
    expect(seen).toEqual(['moved']);
  });

  test('link grace - down for the whole grace is lost, then back', () => {
    const grace = linkGrace(1_000, (state) => seen.push(state));
    grace.onState('down');
    grace.onState('down');
    vi.advanceTimersByTime(999);
    expect(seen).toEqual([]);
    vi.advanceTimersByTime(1);
    grace.onState('up');
    grace.onState('up');
    expect(seen).toEqual(['lost', 'back']);
  });

  test('link grace - a grace of 0 is lost at once; up without down says nothing', () => {
    const grace = linkGrace(0, (state) => seen.push(state));
    grace.onState('up');
    grace.onState('down');
    expect(seen).toEqual(['lost']);
  });

  test('link grace - stop() drops a pending grace', () => {
    const grace = linkGrace(1_000, (state) => seen.push(state));
    grace.onState('down');
    grace.stop();
    vi.advanceTimersByTime(5_000);
    expect(seen).toEqual([]);
  });
});
