/**
 * The NATS fixture on its default backend, the local nats-server binary, and
 * how a backend is chosen. The Docker backend runs the same cases in
 * test/docker/nats-fixture-docker.test.ts.
 */
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  findNatsServerBinary,
  NatsServerNotFoundError,
  resolveNatsBackend,
  startNatsServer,
} from '../../src/testing/index.js';
import { client, fixtureCases, start } from './nats-fixture-cases.js';

const binary = findNatsServerBinary();

describe.skipIf(binary === undefined)(
  binary === undefined
    ? 'binary backend (skipped: no nats-server binary; sudo apt-get install nats-server)'
    : 'binary backend',
  () => {
    fixtureCases('binary');

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
      expect(
        lines.some((line) => line.startsWith('[fixed] ') && /Server is ready/.test(line)),
      ).toBe(true);
      expect(lines.some((line) => line.includes(`127.0.0.1:${port}`))).toBe(true);
    });

    it('nats fixture - listens on every address when asked, with its URL on loopback and monitoring', async () => {
      const server = await start('binary', { host: '0.0.0.0', monitor: true });
      expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
      const varz = (await (await fetch(`${server.monitorUrl}/varz`)).json()) as { host: string };
      expect(varz.host).toBe('0.0.0.0');
      const monitorUrl = server.monitorUrl;
      await server.restart();
      expect(server.monitorUrl).toBe(monitorUrl);
      await client(server.url);
    });

    it('nats fixture - runs the binary through a wrapper command that execs it', async () => {
      const server = await start('binary', { wrapper: ['env', 'SWITCHBOARD_WRAPPED=1'] });
      const comm = await readFile(`/proc/${server.pid}/comm`, 'utf8');
      expect(comm.trim()).toBe('nats-server');
      await client(server.url);
      await expect(
        startNatsServer({ backend: 'binary', wrapper: ['/nonexistent/wrapper'] }),
      ).rejects.toThrow(/cannot execute the wrapper/);
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
      await expect(
        startNatsServer({ backend: 'binary', args: ['--no-such-flag'] }),
      ).rejects.toThrow(/flag provided but not defined/);
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
  },
);

describe('backend selection', () => {
  it('nats fixture - the binary is the default; containers only when asked', async () => {
    vi.stubEnv('SWITCHBOARD_NATS_BACKEND', '');
    await expect(resolveNatsBackend()).resolves.toBe('binary');
    await expect(resolveNatsBackend('docker')).resolves.toBe('docker');
    vi.stubEnv('SWITCHBOARD_NATS_BACKEND', 'docker');
    await expect(resolveNatsBackend()).resolves.toBe('docker');
  });

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
    await expect(startNatsServer({ backend: 'binary', host: 'a b' })).rejects.toThrow(/host/);
    await expect(startNatsServer({ backend: 'binary', wrapper: [''] })).rejects.toThrow(/wrapper/);
    // Checked before any container runtime is asked.
    await expect(startNatsServer({ backend: 'docker', wrapper: ['env'] })).rejects.toThrow(
      /binary backend only/,
    );
  });
});
