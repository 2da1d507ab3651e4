/**
 * The scale harness's registry clock: convergence dated by the registries'
 * last change, not by the check that saw it.
 */
import { afterEach, expect, test, vi } from 'vitest';
import { RegistryClock } from '../../scale/registry-clock.js';

afterEach(() => {
  vi.useRealTimers();
});

test('registry clock - dates the last change by the sample that first saw it', () => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
  let generations = 5;
  const started = performance.now();
  const clock = new RegistryClock(() => generations, 10);
  vi.advanceTimersByTime(100);
  expect(clock.sample()).toBe(started);
  generations += 2;
  vi.advanceTimersByTime(35);
  // Seen by the sample at +110, unchanged since.
  expect(clock.sample()).toBe(started + 110);
  vi.advanceTimersByTime(500);
  expect(clock.sample()).toBe(started + 110);
  // A change sampled by the caller itself is dated now.
  vi.advanceTimersByTime(5);
  generations++;
  expect(clock.sample()).toBe(started + 640);
  clock.close();
  generations++;
  vi.advanceTimersByTime(100);
  expect(vi.getTimerCount()).toBe(0);
  expect(clock.sample()).toBe(started + 740);
});
