import { describe, expect, test } from 'vitest';
import { DEFAULT_PREFIX, isValidPrefix, subjectsFor } from '../../src/protocol/subjects.js';

describe('subjects', () => {
  test('subjects - default prefix is sb', () => {
    expect(DEFAULT_PREFIX).toBe('sb');
    const s = subjectsFor();
    expect(s.prefix).toBe('sb');
    expect({
      register: s.register,
      heartbeat: s.heartbeat,
      deregister: s.deregister,
      lookup: s.lookup,
      list: s.list,
      info: s.info,
      call: s.call,
      registryEvents: s.registryEvents,
      brokerEvents: s.brokerEvents,
      brokerQueue: s.brokerQueue,
    }).toEqual({
      register: 'sb.broker.register',
      heartbeat: 'sb.broker.heartbeat',
      deregister: 'sb.broker.deregister',
      lookup: 'sb.broker.lookup',
      list: 'sb.broker.list',
      info: 'sb.broker.info',
      call: 'sb.broker.call',
      registryEvents: 'sb.events.registry',
      brokerEvents: 'sb.events.broker',
      brokerQueue: 'sb.brokers',
    });
    expect(s.instance('abc123')).toBe('sb.instance.abc123');
    expect(s.control('abc123')).toBe('sb.control.abc123');
  });

  test('subjects - a custom prefix is used for every subject', () => {
    const s = subjectsFor('acme.prod_1-x');
    expect(s.prefix).toBe('acme.prod_1-x');
    for (const key of [
      'register',
      'heartbeat',
      'deregister',
      'lookup',
      'list',
      'info',
      'call',
      'registryEvents',
      'brokerEvents',
      'brokerQueue',
    ] as const) {
      expect(s[key].startsWith('acme.prod_1-x.')).toBe(true);
    }
    expect(s.register).toBe('acme.prod_1-x.broker.register');
    expect(s.instance('i1')).toBe('acme.prod_1-x.instance.i1');
    expect(s.control('i1')).toBe('acme.prod_1-x.control.i1');
  });

  test('subjects - subjects are distinct', () => {
    const s = subjectsFor();
    const all = [
      s.register,
      s.heartbeat,
      s.deregister,
      s.lookup,
      s.list,
      s.info,
      s.call,
      s.registryEvents,
      s.brokerEvents,
      s.brokerQueue,
      s.instance('x'),
      s.control('x'),
    ];
    expect(new Set(all).size).toBe(all.length);
  });

  test('subjects - invalid prefixes throw', () => {
    for (const prefix of [
      '',
      '.',
      'sb.',
      '.sb',
      'a..b',
      'a b',
      'sb.*',
      'sb.>',
      '>',
      '*',
      'sb\t',
      'é',
    ]) {
      expect(isValidPrefix(prefix), prefix).toBe(false);
      expect(() => subjectsFor(prefix), prefix).toThrow(TypeError);
    }
    expect(() => subjectsFor('sb.*')).toThrow(/subject prefix 'sb\.\*'/);
  });

  test('subjects - valid prefixes are accepted', () => {
    for (const prefix of ['sb', 'a.b.c', 'A_1', 'x-y']) {
      expect(isValidPrefix(prefix)).toBe(true);
      expect(() => subjectsFor(prefix)).not.toThrow();
    }
  });
});
