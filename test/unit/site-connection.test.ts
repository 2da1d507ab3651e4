/**
 * How a component holds its site's NATS, over the in-memory NATS: the
 * options handed to nats.js, a borrowed connection, the permission watch,
 * and what a site link does when its connection goes and comes back.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Status } from 'nats';
import { describe, expect, test } from 'vitest';
import { ErrorCode } from '../../src/protocol/index.js';
import {
  CONNECTION_DEFAULTS,
  natsConnectOptions,
  openSiteConnection,
  SiteLink,
} from '../../src/transport/index.js';
import { type PermissionRefusal, watchPermissions } from '../../src/transport/permission-watch.js';
import { collect, idle, MemoryBus } from '../support/memory-nats.js';
import { codec, RecordingLogger, V } from '../support/memory-wire.js';

describe('nats connect options', () => {
  test('nats connect options - the defaults: one local server, retry for ever, quick pings', () => {
    expect(natsConnectOptions({}, 'comp')).toEqual({
      servers: 'nats://127.0.0.1:4222',
      name: 'comp',
      noAsyncTraces: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: 2000,
      pingInterval: 1000,
      maxPingOut: 2,
    });
    expect(CONNECTION_DEFAULTS).toEqual({
      connectTimeoutMs: 2000,
      pingIntervalMs: 1000,
      maxPingsOut: 2,
      reconnectWaitMs: 250,
      clusterReconnectGraceMs: 1500,
    });
    expect(Object.isFrozen(CONNECTION_DEFAULTS)).toBe(true);
  });

  test('nats connect options - what is given is passed on, under nats.js names', () => {
    const opts = natsConnectOptions(
      {
        nats: ['nats://x:1', 'nats://y:2'],
        user: 'u',
        pass: 'p',
        token: 't',
        inboxPrefix: '_INBOX.me',
        connectTimeoutMs: 700,
        pingIntervalMs: 300,
        maxPingsOut: 5,
        tls: { caFile: 'ca.pem', certFile: 'cert.pem', keyFile: 'key.pem' },
      },
      'comp',
    );
    expect(opts).toMatchObject({
      servers: ['nats://x:1', 'nats://y:2'],
      user: 'u',
      pass: 'p',
      token: 't',
      inboxPrefix: '_INBOX.me',
      timeout: 700,
      pingInterval: 300,
      maxPingOut: 5,
      tls: { caFile: 'ca.pem', certFile: 'cert.pem', keyFile: 'key.pem' },
    });
    expect(opts.authenticator).toBeUndefined();
  });

  test('nats connect options - TLS is on only when a file is named, with just the files named', () => {
    expect(natsConnectOptions({ tls: {} }, 'c')).not.toHaveProperty('tls');
    expect(natsConnectOptions({ tls: { caFile: 'ca.pem' } }, 'c').tls).toEqual({
      caFile: 'ca.pem',
    });
    expect(natsConnectOptions({ tls: { certFile: 'c.pem' } }, 'c').tls).toEqual({
      certFile: 'c.pem',
    });
    expect(natsConnectOptions({ tls: { keyFile: 'k.pem' } }, 'c').tls).toEqual({
      keyFile: 'k.pem',
    });
    const none = natsConnectOptions({}, 'c');
    for (const field of ['user', 'pass', 'token', 'inboxPrefix', 'authenticator', 'tls']) {
      expect(none, field).not.toHaveProperty(field);
    }
  });

  test('nats connect options - a credentials file becomes an authenticator', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-creds-'));
    const file = join(dir, 'user.creds');
    writeFileSync(file, 'not read until connecting');
    expect(typeof natsConnectOptions({ credsFile: file }, 'c').authenticator).toBe('function');
  });
});

describe('site connection', () => {
  test('site connection - a borrowed connection keeps its inbox prefix, has no grace, and is left open', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect({ inboxPrefix: '_INBOX.mine' });
    const conn = await openSiteConnection({ connection: nc }, 'comp');
    expect(conn.nc).toBe(nc);
    expect(conn.inboxPrefix).toBe('_INBOX.mine');
    expect(conn.reconnectGraceMs).toBe(0);
    expect(conn.subjects.lookup).toBe('sb.broker.lookup');
    await conn.release();
    expect(nc.isClosed()).toBe(false);
  });

  test('site connection - options given win over the borrowed connection’s; the prefix is the subjects’', async () => {
    const bus = new MemoryBus();
    const conn = await openSiteConnection(
      {
        connection: bus.connect(),
        inboxPrefix: '_INBOX.other',
        reconnectGraceMs: 500,
        prefix: 'x',
      },
      'comp',
    );
    expect(conn.inboxPrefix).toBe('_INBOX.other');
    expect(conn.reconnectGraceMs).toBe(500);
    expect(conn.subjects.lookup).toBe('x.broker.lookup');
    const plain = await openSiteConnection({ connection: bus.connect() }, 'comp');
    expect(plain.inboxPrefix).toBe('_INBOX');
  });

  test('site connection - options are checked first, even with a borrowed connection', async () => {
    const bus = new MemoryBus();
    await expect(
      openSiteConnection({ connection: bus.connect(), inboxPrefix: 'mine' }, 'comp'),
    ).rejects.toThrow(/inboxPrefix/);
  });

  test('site connection - a NATS that refuses the connection fails the opening, saying so', async () => {
    const err = await openSiteConnection(
      { nats: 'nats://127.0.0.1:1', connectTimeoutMs: 1000 },
      'c',
    ).then(
      () => undefined,
      (e: { code?: string; message: string }) => e,
    );
    expect(err).toMatchObject({ code: ErrorCode.UNAVAILABLE });
    expect(err?.message).toContain('connection refused');
  });
});

describe('permission watch', () => {
  test('permission watch - each refusal NATS reports is passed on, a publish as publish and anything else as subscription', async () => {
    const nc = new MemoryBus().connect();
    const refusals: PermissionRefusal[] = [];
    const stop = watchPermissions(nc, (r) => refusals.push(r));
    nc.emitStatus(violation('publish', 'sb.x'));
    nc.emitStatus(violation('subscription', 'sb.y'));
    nc.emitStatus(violation('subscribe', 'sb.z'));
    nc.emitStatus({ type: 'error', data: 'other' } as Status);
    nc.emitStatus({
      type: 'disconnect',
      data: '',
      permissionContext: { operation: 'publish', subject: 'q' },
    } as Status);
    await idle();
    expect(refusals).toEqual([
      { operation: 'publish', subject: 'sb.x' },
      { operation: 'subscription', subject: 'sb.y' },
      { operation: 'subscription', subject: 'sb.z' },
    ]);
    stop();
    nc.emitStatus(violation('publish', 'sb.late'));
    await idle();
    expect(refusals).toHaveLength(3);
  });

  test('permission watch - a closed connection is not watched', async () => {
    const nc = new MemoryBus().connect();
    await nc.close();
    const stop = watchPermissions(nc, () => {
      throw new Error('never');
    });
    expect(() => stop()).not.toThrow();
  });
});

describe('site link', () => {
  test('site link - a publish NATS refuses fails the requests to that subject at once, FORBIDDEN', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    const logger = new RecordingLogger();
    const link = await SiteLink.open({ connection: nc, logger }, 'comp');
    bus.connect().subscribe('sb.broker.lookup', { callback: () => {} });
    const pending = link.brokers.lookup('calc', undefined, 60_000).catch((e: unknown) => e);
    await idle();
    nc.emitStatus(violation('publish', 'sb.broker.lookup'));
    const reason =
      "NATS refused the publish to sb.broker.lookup: this component's credential does not permit it";
    expect(await pending).toMatchObject({ code: ErrorCode.FORBIDDEN, message: reason });
    expect(logger.lines).toContainEqual({
      level: 'warn',
      message: reason,
      fields: { subject: 'sb.broker.lookup' },
    });
    await link.close();
  });

  test('site link - a connection lost with no grace fails what was in flight as a link failure; connected follows it', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    const link = await SiteLink.open({ connection: nc }, 'comp');
    const states: string[] = [];
    link.onGracefulState((s) => states.push(s));
    bus.connect().subscribe('sb.broker.info', { callback: () => {} });
    const pending = link.brokers.info(60_000).catch((e: unknown) => e);
    await idle();
    expect([link.connected, link.reachable]).toEqual([true, true]);
    nc.disconnect();
    await idle();
    expect([link.connected, link.reachable]).toEqual([false, false]);
    expect(await pending).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      message: 'no broker answered on this site (the connection to NATS went down mid-call)',
    });
    nc.reconnect();
    await idle();
    expect([link.connected, link.reachable]).toEqual([true, true]);
    expect(states).toEqual(['lost', 'back']);
    await link.close();
  });

  test('site link - a registry event saying an instance expired ends the calls in flight to it', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    const link = await SiteLink.open({ connection: nc }, 'comp', 'a');
    link.abandonCallsOnDeparture();
    await nc.flush();
    const server = bus.connect();
    const calls = collect(server, 'sb.instance.calc.i1');
    const meta = { callId: 'c1', service: 'calc', method: 'm', budgetMs: 60_000, path: ['a'] };
    const call = link.invoker.invoke('sb.instance.calc.i1', {
      meta,
      body: codec.encode([]),
      timeoutMs: 60_000,
    });
    await calls.nth(0);
    server.publish(
      'sb.events.registry.calc',
      codec.encode({ v: V, kind: 'down', service: 'calc', id: 'i1', site: 'a', reason: 'expired' }),
    );
    const reply = await call;
    expect(reply.ok).toBe(false);
    expect(reply.ok ? undefined : reply.error.message).toBe(
      'calc instance i1 left while the call was in flight',
    );
    await link.close();
  });
});

function violation(operation: string, subject: string): Status {
  return {
    type: 'error',
    data: 'PERMISSIONS_VIOLATION',
    permissionContext: { operation, subject },
  } as Status;
}
