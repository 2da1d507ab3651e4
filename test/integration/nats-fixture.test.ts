import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection, type Subscription } from 'nats';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  findNatsServerBinary,
  isDockerAvailable,
  type NatsBackend,
  type NatsServerHandle,
  NatsServerNotFoundError,
  resolveNatsBackend,
  startNatsServer,
} from '../../src/testing/index.js';

const binary = findNatsServerBinary();
// Only probe Docker (which loads testcontainers) when it could matter.
const docker =
  process.env.SWITCHBOARD_NATS_BACKEND === 'docker' || binary === undefined
    ? await isDockerAvailable()
    : false;

/** Everything started or connected by a test, torn down after it. */
const servers: NatsServerHandle[] = [];
const clients: NatsConnection[] = [];

afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.allSettled(clients.splice(0).map((nc) => nc.close()));
  await Promise.allSettled(servers.splice(0).map((server) => server.close()));
});

async function start(
  backend: NatsBackend,
  options: Parameters<typeof startNatsServer>[0] = {},
): Promise<NatsServerHandle> {
  const server = await startNatsServer({ backend, ...options });
  servers.push(server);
  return server;
}

async function client(url: string, extra: Parameters<typeof connect>[0] = {}) {
  const nc = await connect({ servers: url, reconnect: false, timeout: 2_000, ...extra });
  clients.push(nc);
  return nc;
}

/** Collects the messages a subscription receives. */
function collect(sub: Subscription): string[] {
  const seen: string[] = [];
  void (async () => {
    for await (const msg of sub) seen.push(msg.string());
  })();
  return seen;
}

async function expectNoServer(url: string): Promise<void> {
  await expect(
    connect({ servers: url, reconnect: false, timeout: 1_000, maxReconnectAttempts: 0 }),
  ).rejects.toThrow();
}

function sharedTests(backend: NatsBackend): void {
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

    const onParis = collect(ncParis.subscribe('site.hello'));
    const onTokyo = collect(ncTokyo.subscribe('site.hello'));
    await Promise.all([ncParis.flush(), ncTokyo.flush()]);

    ncParis.publish('site.hello', 'bonjour');
    await ncParis.flush();
    await ncTokyo.flush();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(onParis).toEqual(['bonjour']);
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

describe.skipIf(binary === undefined && docker)('binary backend', () => {
  sharedTests('binary');

  it('nats fixture - close() leaves no process', async () => {
    const server = await start('binary');
    const pid = server.pid;
    expect(pid).toBeTypeOf('number');
    expect(() => process.kill(pid!, 0)).not.toThrow();
    await server.close();
    expect(() => process.kill(pid!, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });

  it('nats fixture - stop() kills the process and restart() spawns a new one', async () => {
    const server = await start('binary');
    const firstPid = server.pid!;
    await server.stop();
    expect(() => process.kill(firstPid, 0)).toThrow();
    await server.restart();
    expect(server.pid).toBeTypeOf('number');
    expect(server.pid).not.toBe(firstPid);
    // restart() on a running server restarts it.
    const secondPid = server.pid!;
    await server.restart();
    expect(() => process.kill(secondPid, 0)).toThrow();
    await client(server.url);
  });

  it('nats fixture - binds the binary to loopback and honours a fixed port and extra args', async () => {
    const first = await start('binary');
    const port = first.port;
    await first.close();
    const lines: string[] = [];
    const server = await start('binary', {
      name: 'fixed',
      port,
      args: ['--max_traced_msg_len', '64'],
      log: (line) => lines.push(line),
    });
    expect(server.url).toBe(`nats://127.0.0.1:${port}`);
    expect(lines.some((line) => line.startsWith('[fixed] ') && /Server is ready/.test(line))).toBe(
      true,
    );
    expect(lines.some((line) => line.includes(`127.0.0.1:${port}`))).toBe(true);
  });

  it('nats fixture - a failed start reports the server log', async () => {
    const taken = await start('binary');
    const error = await startNatsServer({ backend: 'binary', port: taken.port }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/exited during startup/);
    expect((error as Error).message).toMatch(/address already in use/);
  });

  it('nats fixture - a bad CLI arg is reported even after a long usage text', async () => {
    await expect(startNatsServer({ backend: 'binary', args: ['--no-such-flag'] })).rejects.toThrow(
      /flag provided but not defined/,
    );
  });

  it('nats fixture - registers a single exit hook', async () => {
    const a = await start('binary');
    const before = process.listenerCount('exit');
    await start('binary');
    await a.restart();
    expect(process.listenerCount('exit')).toBe(before);
  });

  it('nats fixture - findNatsServerBinary honours NATS_SERVER_BIN', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nats-bin-'));
    try {
      const link = join(dir, 'my-nats-server');
      await symlink(binary!, link);
      vi.stubEnv('NATS_SERVER_BIN', link);
      expect(findNatsServerBinary()).toBe(link);
      const server = await start('binary');
      await client(server.url);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('nats fixture - a bogus NATS_SERVER_BIN gives NatsServerNotFoundError', async () => {
    vi.stubEnv('NATS_SERVER_BIN', '/nonexistent/nats-server');
    expect(findNatsServerBinary()).toBeUndefined();
    const error = await startNatsServer({ backend: 'binary' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(NatsServerNotFoundError);
    expect((error as Error).message).toContain('sudo apt-get install nats-server');
    expect((error as Error).message).toContain('NATS_SERVER_BIN');
    expect((error as Error).message).toContain('/nonexistent/nats-server');
  });
});

describe.runIf(docker)('docker backend', () => {
  sharedTests('docker');
});

describe('backend selection', () => {
  it('nats fixture - SWITCHBOARD_NATS_BACKEND forces the backend', async () => {
    vi.stubEnv('SWITCHBOARD_NATS_BACKEND', 'binary');
    await expect(resolveNatsBackend()).resolves.toBe('binary');
    vi.stubEnv('SWITCHBOARD_NATS_BACKEND', 'Docker');
    await expect(resolveNatsBackend()).resolves.toBe('docker');
    // An explicit option wins over the environment.
    await expect(resolveNatsBackend('binary')).resolves.toBe('binary');
    vi.stubEnv('SWITCHBOARD_NATS_BACKEND', 'kubernetes');
    await expect(resolveNatsBackend()).rejects.toThrow(/SWITCHBOARD_NATS_BACKEND/);
  });

  it('nats fixture - rejects invalid options', async () => {
    await expect(startNatsServer({ backend: 'binary', maxPayload: -1 })).rejects.toThrow(
      RangeError,
    );
    await expect(startNatsServer({ backend: 'binary', port: 70_000 })).rejects.toThrow(RangeError);
  });
});
