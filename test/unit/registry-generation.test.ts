/**
 * Where a registry event stands against the generation a copy is at, and
 * the generations a registry reports with its changes.
 */
import { describe, expect, test } from 'vitest';
import { placeEvent } from '../../src/bridge/registry-generation.js';
import { Registry } from '../../src/broker/index.js';
import { registration } from '../support/memory-site.js';

describe('registry generations', () => {
  test('registry generation - an event follows, is past, shows a gap, or is another matter', () => {
    const cases: Array<[string | undefined, string | undefined, string | undefined, string]> = [
      ['b1.4', 'b1.4', 'b1.5', 'follows'],
      ['b1.4', 'b1.4', 'b1.6', 'follows'],
      ['b1.4', 'b1.3', 'b1.4', 'past'],
      ['b1.4', 'b1.2', 'b1.3', 'past'],
      ['b1.4', 'b1.5', 'b1.6', 'gap'],
      ['b1.4', 'b1.3', 'b1.5', 'gap'],
      ['b1.4', 'b2.4', 'b2.5', 'other'],
      ['b1.4', undefined, 'b1.5', 'other'],
      ['b1.4', 'b1.4', undefined, 'other'],
      // Generations that do not go forward, or change broker, follow nothing.
      ['b1.4', 'b1.4', 'b1.4', 'other'],
      ['b1.4', 'b1.4', 'b1.3', 'other'],
      ['b1.4', 'b1.4', 'b2.5', 'other'],
      ['b1.4', 'b1.4', 'b1.x', 'other'],
      [undefined, 'b1.4', 'b1.5', 'other'],
      ['b1.4', 'b1.9', 'nonsense', 'other'],
      ['opaque', 'b1.1', 'b1.2', 'other'],
      ['a.b.c.7', 'a.b.c.8', 'a.b.c.9', 'gap'],
      // Counts of many digits; a since of another broker, even towards the copy's.
      ['b1.99', 'b1.99', 'b1.100', 'follows'],
      ['b1.5', 'b2.3', 'b1.6', 'other'],
      // Not a generation: trailing text after the count, a count past 15 digits.
      ['b1.4', 'b1.4', 'b1.5x', 'other'],
      ['b1.4', 'b1.4', `b1.${'9'.repeat(16)}`, 'other'],
    ];
    for (const [current, since, generation, place] of cases) {
      expect([current, since, generation, placeEvent(current, since, generation)]).toEqual([
        current,
        since,
        generation,
        place,
      ]);
    }
  });

  test('registry generation - each change goes on from where the last one ended, a moved instance in two steps', () => {
    const registry = new Registry({ site: 'a' });
    const chain: Array<[string, number, number]> = [];
    const record = (changes: Array<{ kind: string; since: number; generation: number }>) => {
      for (const c of changes) chain.push([c.kind, c.since, c.generation]);
    };
    record(registry.register(registration('i1', 'calc')));
    // The same instance with another description: taken out and put back, one event.
    record(registry.register(registration('i1', 'calc', { methods: ['add', 'sub'] })));
    // Moved to another service: its going from the first, then its coming.
    record(registry.register(registration('i1', 'echo')));
    record([registry.deregister('i1')!]);
    expect(chain).toEqual([
      ['up', 0, 1],
      ['up', 1, 3],
      ['down', 3, 4],
      ['up', 4, 5],
      ['down', 5, 6],
    ]);
    expect(registry.generation).toBe(6);
  });
});
