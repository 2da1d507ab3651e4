/**
 * The dashboard's HTTP face with a fake snapshot source: read-only, its own
 * script only, no inline code, no foreign Host names, feeds that end.
 */

import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { DashboardServer, type MeshSnapshot, type SnapshotSource } from '../../src/internal.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-dashboard-'));
writeFileSync(join(dir, 'main.js'), 'export {};\n');
writeFileSync(join(dir, 'graph.js'), 'export {};\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const snapshot: MeshSnapshot = {
  at: 0,
  state: 'no-broker',
  message: 'no broker answers',
  nats: 'nats://x',
  site: null,
  sites: [],
  links: [],
  services: [],
  errors: [],
  windowSeconds: 10,
};

function fakeSource(): SnapshotSource & { emit(s: MeshSnapshot): void; listeners: number } {
  const listeners = new Set<(s: MeshSnapshot) => void>();
  return {
    snapshot: () => snapshot,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    health: () => ({ ok: false, reason: 'dashboard: no broker answers' }),
    emit: (s) => {
      for (const l of listeners) l(s);
    },
    get listeners() {
      return listeners.size;
    },
  };
}

/** A request with the Host header given (fetch does not let one set it). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

async function withServer(
  fn: (server: DashboardServer, source: ReturnType<typeof fakeSource>) => Promise<void>,
) {
  const source = fakeSource();
  const server = await DashboardServer.listen({
    port: 0,
    host: '127.0.0.1',
    allowedHosts: ['mesh.example'],
    scriptDir: dir,
    source,
  });
  try {
    await fn(server, source);
  } finally {
    await server.close();
  }
}

describe('dashboard http', () => {
  test('dashboard http - the page, its style and its scripts, each with a policy that runs no inline code', async () => {
    await withServer(async ({ port }) => {
      const page = await get(port, '/');
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      expect(page.body).toContain('<script type="module" src="app/main.js">');
      expect((await get(port, '/style.css')).status).toBe(200);
      expect((await get(port, '/app/graph.js')).headers['content-type']).toBe(
        'text/javascript; charset=utf-8',
      );
      expect((await get(port, '/app/../dashboard.js')).status).toBe(404);
      expect((await get(port, '/nothing')).status).toBe(404);
      expect((await get(port, '/favicon.ico')).status).toBe(204);
    });
  });

  test('dashboard http - no write: any method but GET and HEAD is refused', async () => {
    await withServer(async ({ port }) => {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        expect((await get(port, '/', {}, method)).status).toBe(405);
      }
    });
  });

  test('dashboard http - a Host other than an address, localhost or an allowed name is refused (DNS rebinding)', async () => {
    await withServer(async ({ port }) => {
      expect((await get(port, '/snapshot.json', { host: 'evil.example' })).status).toBe(421);
      expect((await get(port, '/snapshot.json', { host: `localhost:${port}` })).status).toBe(200);
      expect((await get(port, '/snapshot.json', { host: `[::1]:${port}` })).status).toBe(200);
      expect((await get(port, '/snapshot.json', { host: 'MESH.example' })).status).toBe(200);
    });
  });

  test('dashboard http - health says why it is not ready; the snapshot is JSON', async () => {
    await withServer(async ({ port }) => {
      const health = await get(port, '/healthz');
      expect(health.status).toBe(503);
      expect(health.body).toBe('dashboard: no broker answers\n');
      expect(JSON.parse((await get(port, '/snapshot.json')).body)).toEqual(snapshot);
    });
  });

  test('dashboard http - the feed sends the snapshot now and each new one, and ends with the server', async () => {
    await withServer(async (server, source) => {
      const res = await fetch(`http://127.0.0.1:${server.port}/events`);
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = '';
      const until = async (what: string) => {
        while (!text.includes(what)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`the feed ended before ${what}`);
          text += decoder.decode(value);
        }
      };
      await until('"no-broker"');
      expect(source.listeners).toBe(1);
      source.emit({ ...snapshot, state: 'live', message: 'now live' });
      await until('now live');
      await server.close();
      expect(source.listeners).toBe(0);
    });
  });

  test('dashboard http - a feed whose page stopped reading is let go once 4 MiB wait, not buffered for', async () => {
    await withServer(async (server, source) => {
      const socket = connect(server.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
      await once(socket, 'data');
      socket.pause();
      expect(source.listeners).toBe(1);
      const big = { ...snapshot, message: 'x'.repeat(2 ** 20) };
      // Enough for the kernel's buffers of both ends and then the backlog.
      for (let i = 0; i < 64 && source.listeners > 0; i++) {
        source.emit(big);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(source.listeners).toBe(0);
      socket.destroy();
    });
  });

  test('dashboard http - a script folder without main.js fails at once, saying to build', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'sb-dashboard-empty-'));
    try {
      await expect(
        DashboardServer.listen({
          port: 0,
          host: '127.0.0.1',
          allowedHosts: [],
          scriptDir: empty,
          source: fakeSource(),
        }),
      ).rejects.toThrow(/npm run build/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
