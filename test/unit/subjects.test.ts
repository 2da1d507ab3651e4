import { describe, expect, test } from 'vitest';
import {
  DEFAULT_PREFIX,
  isPublishSubject,
  isValidInboxPrefix,
  isValidPrefix,
  lastToken,
  subjectsFor,
} from '../../src/protocol/subjects.js';

describe('subjects', () => {
  test('subjects - every subject of one service carries its name as a token', () => {
    const s = subjectsFor();
    expect(s.prefix).toBe(DEFAULT_PREFIX);
    expect(s.services.register('calc')).toBe('sb.broker.register.calc');
    expect(s.services.heartbeat('calc')).toBe('sb.broker.heartbeat.calc');
    expect(s.services.deregister('calc')).toBe('sb.broker.deregister.calc');
    expect(s.routes.register('calc')).toBe('sb.broker.route.register.calc');
    expect(s.routes.heartbeat('calc')).toBe('sb.broker.route.heartbeat.calc');
    expect(s.routes.deregister('calc')).toBe('sb.broker.route.deregister.calc');
    expect(s.call('calc')).toBe('sb.broker.call.calc');
    expect(s.registryEvents('calc')).toBe('sb.events.registry.calc');
    expect(s.instance('calc', 'i1')).toBe('sb.instance.calc.i1');
    expect(s.route('calc', 'r1')).toBe('sb.route.calc.r1');
    expect(s.control('calc', 'i1')).toBe('sb.control.calc.i1');
  });

  test('subjects - brokers and listeners subscribe with one wildcard per service token', () => {
    const s = subjectsFor('acme.sb');
    expect(s.services.all).toEqual({
      register: 'acme.sb.broker.register.*',
      heartbeat: 'acme.sb.broker.heartbeat.*',
      deregister: 'acme.sb.broker.deregister.*',
    });
    expect(s.routes.all.register).toBe('acme.sb.broker.route.register.*');
    expect(s.callAll).toBe('acme.sb.broker.call.*');
    expect(s.registryEventsAll).toBe('acme.sb.events.registry.*');
    expect([s.lookup, s.list, s.info, s.brokerEvents, s.brokerQueue]).toEqual([
      'acme.sb.broker.lookup',
      'acme.sb.broker.list',
      'acme.sb.broker.info',
      'acme.sb.events.broker',
      'acme.sb.brokers',
    ]);
  });

  test('subjects - a service subject never matches another kind of subscription', () => {
    const s = subjectsFor();
    // Route registrations are not seen by the services wildcard, and back.
    const matches = (subject: string, pattern: string) =>
      subject.split('.').length === pattern.split('.').length &&
      pattern.split('.').every((t, i) => t === '*' || t === subject.split('.')[i]);
    expect(matches(s.routes.register('calc'), s.services.all.register)).toBe(false);
    expect(matches(s.services.register('calc'), s.routes.all.register)).toBe(false);
    expect(matches(s.services.register('calc'), s.services.all.register)).toBe(true);
  });

  test('subjects - prefixes must be dot-separated tokens without wildcards', () => {
    for (const ok of ['sb', 'acme.sb', 'a-b_c.d1']) expect(isValidPrefix(ok)).toBe(true);
    for (const bad of ['', '.sb', 'sb.', 'a..b', 'sb.*', 'sb.>', 'a b', 'é']) {
      expect(isValidPrefix(bad), bad).toBe(false);
      expect(() => subjectsFor(bad)).toThrow(TypeError);
    }
  });

  test('subjects - a publish subject has no wildcard, white space or empty token', () => {
    for (const ok of ['_INBOX.abc.1', 'a', 'a.b-c_d.e~f', '$SRV.PING']) {
      expect(isPublishSubject(ok), ok).toBe(true);
    }
    for (const bad of [
      '',
      'a b',
      'a.*',
      'a.>',
      'a..b',
      '.a',
      'a.',
      'a\tb',
      'a\r\nb',
      'x'.repeat(257),
    ]) {
      expect(isPublishSubject(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  test('subjects - lastToken reads the service of a registration subject', () => {
    expect(lastToken('sb.broker.register.calc')).toBe('calc');
    expect(lastToken('plain')).toBe('plain');
  });

  test('subjects - an inbox prefix keeps every reply subject under _INBOX.', () => {
    expect(isValidInboxPrefix('_INBOX')).toBe(true);
    expect(isValidInboxPrefix('_INBOX.client-a')).toBe(true);
    expect(isValidInboxPrefix(`_INBOX.${'x'.repeat(121)}`)).toBe(true);
    expect(isValidInboxPrefix(`_INBOX.${'x'.repeat(122)}`)).toBe(false);
    for (const bad of ['', 'INBOX', '_INBOX.', '_INBOX..a', '_INBOX.>', '_INBOXa', 'sb._INBOX']) {
      expect(isValidInboxPrefix(bad), bad).toBe(false);
    }
  });
});
