import { describe, expect, test } from 'vitest';
import { permissionsFor, subjectsFor } from '../../src/protocol/index.js';

const s = subjectsFor();
const ASK = ['sb.broker.lookup', 'sb.broker.list', 'sb.broker.info'];
const CALL = ['sb.broker.call.*', 'sb.instance.*.*', 'sb.route.*.*'];

describe('permissions', () => {
  test('permissions - a client asks brokers, calls, hears registry events and reads its own inbox only', () => {
    expect(permissionsFor(s, { role: 'client', inboxPrefix: '_INBOX.client' })).toEqual({
      publish: [...ASK, ...CALL],
      subscribe: ['_INBOX.client.>', 'sb.events.registry.*'],
      allowResponses: false,
    });
  });

  test('permissions - an observer asks brokers, hears events and sends discovery requests, and calls nothing', () => {
    expect(permissionsFor(s, { role: 'observer', inboxPrefix: '_INBOX.observer' })).toEqual({
      publish: [...ASK, '$SRV.>'],
      subscribe: ['_INBOX.observer.>', 'sb.events.registry.*', 'sb.events.broker'],
      allowResponses: false,
    });
  });

  test('permissions - a server registers and serves its own services only, answers in inboxes, and is a client', () => {
    const p = permissionsFor(s, {
      role: 'server',
      inboxPrefix: '_INBOX.server-calculator',
      services: ['calculator'],
    });
    expect(p).toEqual({
      publish: [
        'sb.broker.register.calculator',
        'sb.broker.heartbeat.calculator',
        'sb.broker.deregister.calculator',
        '_INBOX.>',
        ...ASK,
        ...CALL,
      ],
      subscribe: [
        'sb.instance.calculator.*',
        'sb.control.calculator.*',
        '$SRV.PING',
        '$SRV.PING.calculator',
        '$SRV.PING.calculator.*',
        '$SRV.INFO',
        '$SRV.INFO.calculator',
        '$SRV.INFO.calculator.*',
        '$SRV.STATS',
        '$SRV.STATS.calculator',
        '$SRV.STATS.calculator.*',
        'sb.events.broker',
        '_INBOX.server-calculator.>',
        'sb.events.registry.*',
      ],
      allowResponses: true,
    });
    expect(p.publish.filter((subject) => subject.includes('route'))).toEqual(['sb.route.*.*']);
    // Two services: the discovery requests of each, the bare ones once.
    const two = permissionsFor(s, {
      role: 'server',
      inboxPrefix: '_INBOX.x',
      services: ['a', 'b'],
    });
    const pings = two.subscribe.filter((subject) => subject.startsWith('$SRV.PING'));
    expect(pings).toEqual([
      '$SRV.PING',
      '$SRV.PING.a',
      '$SRV.PING.a.*',
      '$SRV.PING.b',
      '$SRV.PING.b.*',
    ]);
    expect(() => permissionsFor(s, { role: 'server', inboxPrefix: '_INBOX.x' })).toThrow(
      /needs its services/,
    );
  });

  test('permissions - a broker takes what brokers take, forwards, announces, and may list', () => {
    expect(permissionsFor(s, { role: 'broker', inboxPrefix: '_INBOX.broker' })).toEqual({
      publish: [
        'sb.events.registry.*',
        'sb.events.broker',
        'sb.control.*.*',
        'sb.session.*',
        'sb.instance.*.*',
        'sb.route.*.*',
        ...ASK,
      ],
      subscribe: [
        'sb.broker.register.*',
        'sb.broker.heartbeat.*',
        'sb.broker.deregister.*',
        'sb.broker.route.register.*',
        'sb.broker.route.heartbeat.*',
        'sb.broker.route.deregister.*',
        'sb.broker.route.renew',
        'sb.broker.route.batch',
        ...ASK,
        'sb.broker.call.*',
        '_INBOX.broker.>',
        'sb.events.registry.*',
      ],
      allowResponses: true,
    });
  });

  test('permissions - a bridge half registers routes and takes their calls, never a service', () => {
    const p = permissionsFor(s, { role: 'bridge', inboxPrefix: '_INBOX.bridge-b' });
    expect(p).toEqual({
      publish: [
        'sb.broker.route.register.*',
        'sb.broker.route.heartbeat.*',
        'sb.broker.route.deregister.*',
        'sb.broker.route.renew',
        'sb.broker.route.batch',
        'sb.instance.*.*',
        'sb.route.*.*',
        '_INBOX.>',
        ...ASK,
      ],
      subscribe: [
        'sb.route.*.*',
        'sb.control.*.*',
        'sb.session.*',
        'sb.events.registry.*',
        'sb.events.broker',
        '_INBOX.bridge-b.>',
        '$SRV.>',
      ],
      allowResponses: true,
    });
  });

  test('permissions - only brokers take registrations; only bridges register routes; only servers register services', () => {
    const grants = {
      client: permissionsFor(s, { role: 'client', inboxPrefix: '_INBOX.c' }),
      observer: permissionsFor(s, { role: 'observer', inboxPrefix: '_INBOX.o' }),
      server: permissionsFor(s, { role: 'server', inboxPrefix: '_INBOX.s', services: ['x'] }),
      broker: permissionsFor(s, { role: 'broker', inboxPrefix: '_INBOX.b' }),
      bridge: permissionsFor(s, { role: 'bridge', inboxPrefix: '_INBOX.r' }),
    };
    const who = (side: 'publish' | 'subscribe', match: (subject: string) => boolean) =>
      Object.entries(grants)
        .filter(([, p]) => p[side].some(match))
        .map(([role]) => role);
    expect(who('subscribe', (x) => x.startsWith('sb.broker.'))).toEqual(['broker']);
    expect(who('publish', (x) => x.startsWith('sb.broker.route.'))).toEqual(['bridge']);
    expect(who('publish', (x) => /^sb\.broker\.(register|heartbeat|deregister)\./.test(x))).toEqual(
      ['server'],
    );
    expect(who('publish', (x) => x.startsWith('sb.events.'))).toEqual(['broker']);
    expect(who('publish', (x) => x.startsWith('sb.control.'))).toEqual(['broker']);
    expect(who('subscribe', (x) => x.startsWith('sb.instance.'))).toEqual(['server']);
    expect(who('subscribe', (x) => x.startsWith('sb.route.'))).toEqual(['bridge']);
    expect(who('subscribe', (x) => x === '_INBOX.>' || x === '>')).toEqual([]);
    // Every discovery request reaches bridges only; a server hears those of its services.
    expect(who('subscribe', (x) => x === '$SRV.>')).toEqual(['bridge']);
    expect(who('publish', (x) => x.startsWith('$SRV'))).toEqual(['observer']);
  });

  test('permissions - subjects follow the site prefix', () => {
    const p = permissionsFor(subjectsFor('acme.sb'), {
      role: 'server',
      inboxPrefix: '_INBOX.s',
      services: ['calc'],
    });
    expect(p.publish[0]).toBe('acme.sb.broker.register.calc');
    expect(p.subscribe[0]).toBe('acme.sb.instance.calc.*');
    expect(p.publish).toContain('_INBOX.>');
  });
});
