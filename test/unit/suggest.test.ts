import { describe, expect, test } from 'vitest';
import { closest, editDistance } from '../../src/util/suggest.js';

describe('suggest', () => {
  test('suggest - editDistance counts insertions, deletions, substitutions and swaps', () => {
    expect(editDistance('timeout', 'timeout')).toBe(0);
    expect(editDistance('timout', 'timeout')).toBe(1);
    expect(editDistance('tiemout', 'timeout')).toBe(1);
    expect(editDistance('calculater', 'calculator')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('abc', '')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  test('suggest - closest picks the nearest candidate within a third of the word', () => {
    const options = ['timeout', 'json', 'via-broker', 'service-version', 'nats'];
    expect(closest('timout', options)).toBe('timeout');
    expect(closest('jsno', options)).toBe('json');
    expect(closest('NATS', options)).toBe('nats');
    expect(closest('version', options)).toBe('service-version');
    expect(closest('brokr', ['broker', 'bridge', 'ls'])).toBe('broker');
    expect(closest('lss', ['broker', 'bridge', 'ls'])).toBe('ls');
    expect(closest('warning', ['debug', 'info', 'warn', 'error'])).toBe('warn');
    expect(closest('warnign', ['debug', 'info', 'warn', 'error'])).toBe('warn');
  });

  test('suggest - closest offers nothing far off, or the word itself', () => {
    expect(closest('banana', ['timeout', 'json'])).toBeUndefined();
    expect(closest('json', ['json'])).toBeUndefined();
    expect(closest('x', [])).toBeUndefined();
    // Two candidates start with 'serve': neither is offered.
    expect(closest('serve', ['serve-example', 'server-x'])).toBeUndefined();
  });
});
