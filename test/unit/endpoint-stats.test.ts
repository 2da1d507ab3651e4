import { describe, expect, test } from 'vitest';
import {
  EndpointStats,
  MAX_COUNTED_PATHS,
  OTHER_PATHS,
} from '../../src/transport/endpoint-stats.js';

describe('endpoint stats', () => {
  test('endpoint stats - count calls by path and errors by code, and keep where the last error arose', () => {
    const stats = new EndpointStats();
    stats.record(2, ['a']);
    stats.record(1, ['a']);
    stats.record(1, ['c', 'b', 'a'], { code: 'TIMEOUT', message: 'late' });
    stats.record(3, ['a'], {
      code: 'APPLICATION',
      message: 'no',
      site: 'c',
      path: ['a', 'b', 'c'],
    });
    expect(stats.requests).toBe(4);
    expect(stats.errors).toBe(2);
    expect(stats.lastError).toBe('no');
    expect(stats.processingNs).toBe(7e6);
    expect(stats.data()).toEqual({
      calls_by_path: { a: 3, 'c,b,a': 1 },
      errors_by_code: { TIMEOUT: 1, APPLICATION: 1 },
      last_error_code: 'APPLICATION',
      last_error_site: 'c',
      last_error_path: 'a,b,c',
    });
  });

  test('endpoint stats - a caller making paths up cannot grow the counts past a bound', () => {
    const stats = new EndpointStats();
    for (let i = 0; i < MAX_COUNTED_PATHS + 10; i++) stats.record(0, [`s${i}`]);
    stats.record(0, ['s0']);
    stats.record(
      0,
      Array.from({ length: 60 }, (_, i) => `site-with-a-long-name-${i}`),
    );
    const byPath = stats.data().calls_by_path;
    expect(Object.keys(byPath)).toHaveLength(MAX_COUNTED_PATHS + 1);
    expect(byPath.s0).toBe(2);
    expect(byPath[OTHER_PATHS]).toBe(11);
  });

  test('endpoint stats - no error yet: no last error fields', () => {
    const stats = new EndpointStats();
    stats.record(0, ['a']);
    expect(stats.data()).toEqual({ calls_by_path: { a: 1 }, errors_by_code: {} });
  });
});
