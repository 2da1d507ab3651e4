/** The room a relay keeps for the calls it holds: counted calls and body bytes, refused past either limit. */
import { describe, expect, test } from 'vitest';
import { DEFAULT_IN_FLIGHT_LIMITS, InFlightLimit } from '../../src/core/index.js';

describe('in-flight limit', () => {
  test('in-flight limit - takes room per call and body bytes, and gives it back', () => {
    const limit = new InFlightLimit({ maxCalls: 3, maxBytes: 100 });
    expect(limit.take(40)).toBeUndefined();
    expect(limit.take(60)).toBeUndefined();
    expect({ calls: limit.calls, bytes: limit.bytes }).toEqual({ calls: 2, bytes: 100 });
    expect(limit.take(1)).toBe(
      'its limit of 100 bytes of calls in flight would be passed (100 held, 1 more)',
    );
    limit.release(60);
    expect(limit.take(0)).toBeUndefined();
    expect(limit.take(0)).toBeUndefined();
    expect(limit.take(0)).toBe('its limit of 3 calls in flight is reached');
    expect({ calls: limit.calls, bytes: limit.bytes }).toEqual({ calls: 3, bytes: 40 });
  });

  test('in-flight limit - one call alone passes whatever its size; a second waits for room', () => {
    const limit = new InFlightLimit({ maxBytes: 10 });
    expect(limit.take(1000)).toBeUndefined();
    expect(limit.take(1)).toMatch(/would be passed \(1000 held, 1 more\)/);
    limit.release(1000);
    expect(limit.take(10)).toBeUndefined();
    expect(limit.take(1)).toMatch(/would be passed \(10 held, 1 more\)/);
  });

  test('in-flight limit - limits not given, or given as undefined, are the defaults', () => {
    expect(new InFlightLimit().limits).toEqual(DEFAULT_IN_FLIGHT_LIMITS);
    expect(DEFAULT_IN_FLIGHT_LIMITS).toEqual({ maxCalls: 20_000, maxBytes: 268_435_456 });
    expect(new InFlightLimit({ maxCalls: undefined, maxBytes: 5 }).limits).toEqual({
      maxCalls: DEFAULT_IN_FLIGHT_LIMITS.maxCalls,
      maxBytes: 5,
    });
    const one = new InFlightLimit({ maxCalls: 1 });
    expect(one.take(0)).toBeUndefined();
    expect(one.take(0)).toBe('its limit of 1 call in flight is reached');
  });

  test('in-flight limit - carry gives the room back however the call ends, and passes its outcome on', async () => {
    const limit = new InFlightLimit({ maxCalls: 1 });
    const held = () => ({ calls: limit.calls, bytes: limit.bytes });
    expect(limit.take(4)).toBeUndefined();
    const carried = limit.carry(
      4,
      async () => 2,
      (n) => n * 10,
    );
    expect(held()).toEqual({ calls: 1, bytes: 4 });
    expect(await carried).toBe(20);
    expect(held()).toEqual({ calls: 0, bytes: 0 });
    const failures = [
      () => Promise.reject(new Error('later')),
      () => {
        throw new Error('at once');
      },
    ];
    for (const send of failures) {
      expect(limit.take(4)).toBeUndefined();
      await expect(limit.carry(4, send, () => 'never')).rejects.toThrow();
      expect(held()).toEqual({ calls: 0, bytes: 0 });
    }
  });
});
