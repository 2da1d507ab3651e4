/** The room a relay keeps for the calls it holds: counted calls and body bytes, refused past either limit. */
import { describe, expect, test } from 'vitest';
import { DEFAULT_IN_FLIGHT_LIMITS, InFlightLimit } from '../../src/core/index.js';

describe('in-flight limit', () => {
  test('in-flight limit - takes room per call and body bytes, and gives it back', () => {
    const limit = new InFlightLimit({ maxCalls: 3, maxBytes: 100 });
    expect(limit.take(40, 'a')).toBeUndefined();
    expect(limit.take(60, 'b')).toBeUndefined();
    expect({ calls: limit.calls, bytes: limit.bytes }).toEqual({ calls: 2, bytes: 100 });
    expect(limit.take(1, 'c')).toBe(
      'its limit of 100 bytes of calls in flight would be passed (100 held, 1 more)',
    );
    limit.release(60, 'b');
    expect(limit.take(0, 'b')).toBeUndefined();
    expect(limit.take(0, 'c')).toBeUndefined();
    expect(limit.take(0, 'd')).toBe('its limit of 3 calls in flight is reached');
    expect({ calls: limit.calls, bytes: limit.bytes }).toEqual({ calls: 3, bytes: 40 });
  });

  test('in-flight limit - one call alone passes whatever its size; a second waits for room', () => {
    const limit = new InFlightLimit({ maxBytes: 10 });
    expect(limit.take(1000, 'a')).toBeUndefined();
    expect(limit.take(1, 'b')).toMatch(
      /its limit of 10 bytes .* would be passed \(1000 held, 1 more\)/,
    );
    limit.release(1000, 'a');
    expect(limit.take(10, 'a')).toBeUndefined();
    expect(limit.take(1, 'b')).toMatch(/would be passed \(10 held, 1 more\)/);
  });

  test('in-flight limit - one caller holds at most its share (half of each limit unless given); the others keep theirs', () => {
    const limit = new InFlightLimit({ maxCalls: 10, maxBytes: 1000 });
    expect(limit.limits).toMatchObject({ maxCallsPerCaller: 5, maxBytesPerCaller: 500 });
    for (let i = 0; i < 5; i++) expect(limit.take(10, 'greedy')).toBeUndefined();
    expect(limit.take(10, 'greedy')).toBe('its limit per caller of 5 calls in flight is reached');
    for (let i = 0; i < 5; i++) expect(limit.take(10, `other-${i}`)).toBeUndefined();
    expect(limit.callers).toBe(6);
    expect(limit.take(10, 'other-5')).toBe('its limit of 10 calls in flight is reached');
    limit.release(10, 'greedy');
    expect(limit.take(10, 'greedy')).toBeUndefined();
    limit.release(10, 'other-0');
    expect(limit.callers).toBe(5); // a caller holding nothing is forgotten
    expect(limit.take(10, 'greedy')).toBe('its limit per caller of 5 calls in flight is reached');
    expect(limit.take(10, 'other-0')).toBeUndefined();
    // Bytes: one call alone passes whatever its size; past that, the caller's share counts.
    const bytes = new InFlightLimit({ maxBytesPerCaller: 100 });
    expect(bytes.take(150, 'big')).toBeUndefined();
    expect(bytes.take(1, 'big')).toBe(
      'its limit per caller of 100 bytes of calls in flight would be passed (150 held, 1 more)',
    );
    expect(bytes.take(100, 'small')).toBeUndefined();
  });

  test('in-flight limit - limits not given, or given as undefined, are the defaults', () => {
    expect(new InFlightLimit().limits).toEqual(DEFAULT_IN_FLIGHT_LIMITS);
    expect(DEFAULT_IN_FLIGHT_LIMITS).toEqual({
      maxCalls: 20_000,
      maxBytes: 268_435_456,
      maxCallsPerCaller: 10_000,
      maxBytesPerCaller: 134_217_728,
    });
    expect(new InFlightLimit({ maxCalls: undefined, maxBytes: 5 }).limits).toEqual({
      maxCalls: DEFAULT_IN_FLIGHT_LIMITS.maxCalls,
      maxBytes: 5,
      maxCallsPerCaller: DEFAULT_IN_FLIGHT_LIMITS.maxCallsPerCaller,
      maxBytesPerCaller: 2,
    });
    const one = new InFlightLimit({ maxCalls: 1 });
    expect(one.limits.maxCallsPerCaller).toBe(1);
    expect(one.take(0, 'a')).toBeUndefined();
    expect(one.take(0, 'b')).toBe('its limit of 1 call in flight is reached');
  });

  test('in-flight limit - carry gives the room back however the call ends, and passes its outcome on', async () => {
    const limit = new InFlightLimit({ maxCalls: 1 });
    const held = () => ({ calls: limit.calls, bytes: limit.bytes, callers: limit.callers });
    expect(limit.take(4, 'a')).toBeUndefined();
    const carried = limit.carry(
      4,
      'a',
      async () => 2,
      (n) => n * 10,
    );
    expect(held()).toEqual({ calls: 1, bytes: 4, callers: 1 });
    expect(await carried).toBe(20);
    expect(held()).toEqual({ calls: 0, bytes: 0, callers: 0 });
    const failures = [
      () => Promise.reject(new Error('later')),
      () => {
        throw new Error('at once');
      },
    ];
    for (const send of failures) {
      expect(limit.take(4, 'a')).toBeUndefined();
      await expect(limit.carry(4, 'a', send, () => 'never')).rejects.toThrow();
      expect(held()).toEqual({ calls: 0, bytes: 0, callers: 0 });
    }
  });
});
