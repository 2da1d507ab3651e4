/**
 * The shared deadline timer between things in flight: once nothing is in
 * flight it keeps nothing alive but stays armed, so that the next thing,
 * due later, costs no timer of its own; `disarm` leaves none at all.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { DeadlineTimer } from '../../src/util/index.js';

/** Timers that keep this process alive (unreferenced ones are not listed). */
const liveTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Timers made by a test, cleared after it whatever it asserted. */
const made: DeadlineTimer[] = [];
const newTimer = (expire: (now: number) => number): DeadlineTimer => {
  const timer = new DeadlineTimer(expire);
  made.push(timer);
  return timer;
};

afterEach(() => {
  for (const timer of made.splice(0)) timer.disarm();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('deadline timer', () => {
  test('deadline timer - idle, it keeps nothing alive, and the next later deadline takes it up again', () => {
    const expire = vi.fn(() => Number.POSITIVE_INFINITY);
    const timer = newTimer(expire);
    const before = liveTimers();
    const armed = vi.spyOn(globalThis, 'setTimeout');
    const cleared = vi.spyOn(globalThis, 'clearTimeout');
    timer.arm(Date.now() + 60_000);
    expect(liveTimers()).toBe(before + 1);
    timer.idle();
    expect(liveTimers()).toBe(before);
    // One call after another: the next is due later, and the same timer serves it.
    timer.arm(Date.now() + 61_000);
    expect(liveTimers()).toBe(before + 1);
    timer.idle();
    timer.arm(Date.now() + 62_000);
    expect(armed).toHaveBeenCalledTimes(1);
    expect(cleared).not.toHaveBeenCalled();
    timer.disarm();
    expect(liveTimers()).toBe(before);
    expect(expire).not.toHaveBeenCalled();
  });

  test('deadline timer - an earlier deadline than the idle timer replaces it, and keeps the process alive', () => {
    const timer = newTimer(() => Number.POSITIVE_INFINITY);
    const before = liveTimers();
    timer.arm(Date.now() + 60_000);
    timer.idle();
    timer.arm(Date.now() + 30_000);
    expect(liveTimers()).toBe(before + 1);
    // The new timer is the one left idle next.
    timer.idle();
    expect(liveTimers()).toBe(before);
    timer.disarm();
    expect(liveTimers()).toBe(before);
  });

  test('deadline timer - fired while idle, it asks once what has expired and is not armed again', async () => {
    vi.useFakeTimers();
    const now = Date.now();
    const expire = vi.fn(() => Number.POSITIVE_INFINITY);
    const timer = newTimer(expire);
    timer.arm(now + 100);
    timer.idle();
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(expire).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
    // Armed again later, it fires at the new deadline.
    timer.arm(Date.now() + 50);
    await vi.advanceTimersByTimeAsync(50);
    expect(expire).toHaveBeenCalledTimes(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('deadline timer - idle with nothing armed, or twice, changes nothing', () => {
    const timer = newTimer(() => Number.POSITIVE_INFINITY);
    const before = liveTimers();
    timer.idle();
    timer.arm(Date.now() + 60_000);
    timer.idle();
    timer.idle();
    expect(liveTimers()).toBe(before);
    timer.arm(Date.now() + 61_000);
    expect(liveTimers()).toBe(before + 1);
    timer.disarm();
  });
});
