/**
 * The NATS fixture's cases that every backend must pass, and the bookkeeping
 * they share: each server started and client connected by a test is closed
 * after it. Used by nats-fixture.test.ts (the binary) and
 * test/docker/nats-fixture-docker.test.ts (containers).
 */
import { connect, type NatsConnection } from 'nats';
import { afterEach, expect, it, vi } from 'vitest';
import {
  type NatsBackend,
  type NatsServerHandle,
  type NatsServerOptions,
  startNatsServer,
} from '../../src/testing/index.js';

const servers: NatsServerHandle[] = [];
const clients: NatsConnection[] = [];

afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.allSettled(clients.splice(0).map((nc) => nc.close()));
  await Promise.allSettled(servers.splice(0).map((server) => server.close()));
});

/** Starts a server on `backend`; closed after the test. */
export async function start(
  backend: NatsBackend,
  options: NatsServerOptions = {},
): Promise<NatsServerHandle> {
  const server = await startNatsServer({ backend, ...options });
  servers.push(server);
  return server;
}

/** Connects to `url`; closed after the test. */
export async function client(
  url: string,
  extra: Parameters<typeof connect>[0] = {},
): Promise<NatsConnection> {
  const nc = await connect({ servers: url, reconnect: false, timeout: 2_000, ...extra });
  clients.push(nc);
  return nc;
}

export async function expectNoServer(url: string): Promise<void> {
  await expect(
    connect({ servers: url, reconnect: false, timeout: 1_000, maxReconnectAttempts: 0 }),
  ).rejects.toThrow();
}

/** The cases every backend passes, titled with the backend's name. */
export function fixtureCases(backend: NatsBackend): void {
  it(`nats fixture - starts two independent servers (${backend})`, async () => {
    const [paris, tokyo] = await Promise.all([
      start(backend, { name: 'paris' }),
      start(backend, { name: 'tokyo' }),
    ]);
    expect(paris.backend).toBe(backend);
    expect(paris.url).toMatch(/^nats:\/\/[^:]+:\d+$/);
    expect(paris.url.endsWith(`:${paris.port}`)).toBe(true);
    expect(paris.port).not.toBe(tokyo.port);

    const [ncParis, ncTokyo] = await Promise.all([client(paris.url), client(tokyo.url)]);
    expect(ncParis.info?.server_name).toBe('paris');
    expect(ncTokyo.info?.server_name).toBe('tokyo');

    const onParis = ncParis.subscribe('site.hello', { max: 1 });
    const onTokyo: string[] = [];
    ncTokyo.subscribe('site.hello', { callback: (_err, msg) => onTokyo.push(msg.string()) });
    await Promise.all([ncParis.flush(), ncTokyo.flush()]);

    ncParis.publish('site.hello', 'bonjour');
    for await (const msg of onParis) expect(msg.string()).toBe('bonjour');
    await ncTokyo.flush();
    expect(onTokyo).toEqual([]);
  });

  it(`nats fixture - stop() and restart() keep the URL (${backend})`, async () => {
    const server = await start(backend, { name: 'lyon' });
    const { url, port } = server;
    // A long-lived client should find the server again after the restart.
    const survivor = await client(url, {
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 50,
    });

    const reconnected = (async () => {
      for await (const status of survivor.status()) if (status.type === 'reconnect') return;
    })();

    await server.stop();
    await server.stop(); // idempotent
    await expectNoServer(url);

    await server.restart();
    expect(server.url).toBe(url);
    expect(server.port).toBe(port);
    const fresh = await client(server.url);
    expect(fresh.info?.server_name).toBe('lyon');

    const echo = fresh.subscribe('echo', { callback: (_err, msg) => msg.respond(msg.data) });
    await fresh.flush();
    await reconnected;
    const reply = await survivor.request('echo', 'ping', { timeout: 5_000 });
    expect(reply.string()).toBe('ping');
    echo.unsubscribe();
  });

  it(`nats fixture - close twice is fine (${backend})`, async () => {
    const server = await start(backend);
    expect(server.name).toBe('nats');
    await Promise.all([server.close(), server.close()]);
    await server.close();
    await server[Symbol.asyncDispose]();
    await expectNoServer(server.url);
    await expect(server.restart()).rejects.toThrow(/closed/);
  });

  it(`nats fixture - applies maxPayload (${backend})`, async () => {
    const server = await start(backend, { maxPayload: 65_536 });
    const nc = await client(server.url);
    expect(nc.info?.max_payload).toBe(65_536);
    expect(() => nc.publish('big', new Uint8Array(65_537))).toThrow();

    await server.stop();
    await server.restart();
    const again = await client(server.url);
    expect(again.info?.max_payload).toBe(65_536);
  });
}
