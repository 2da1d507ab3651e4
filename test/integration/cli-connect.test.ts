/**
 * The built `switchboard` CLI against a real nats-server (without TLS) and
 * against a port where nothing listens: what connection failures and waits say.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type NatsServerHandle, startNatsServer } from '../../src/testing/index.js';
import { closedPort, killAll, run, SPAWNS_TIMEOUT_MS, start } from './cli-process.js';

let nats: NatsServerHandle;
let url: string;
/** A URL where nothing listens. */
let closed: string;
let dir: string;

/** `text` as a pattern that matches it literally. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The lines of a text. */
function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

beforeAll(async () => {
  nats = await startNatsServer({ backend: 'binary', name: 'cli-connect' });
  url = nats.url;
  closed = `nats://127.0.0.1:${await closedPort()}`;
  dir = mkdtempSync(join(tmpdir(), 'switchboard-cli-connect-'));
});

afterAll(async () => {
  await killAll();
  await nats?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('cli connection errors', { timeout: SPAWNS_TIMEOUT_MS }, () => {
  test('cli connect - an unreachable NATS names the URL and why', async () => {
    const call = await run(['call', 'calculator.add', '1', '2', '--nats', closed]);
    expect(call.code).toBe(1);
    expect(lines(call.stderr)).toEqual([
      `UNAVAILABLE: cannot connect to NATS at ${closed}: connection refused`,
    ]);
  });

  test('cli connect - a CA against a server without TLS says the server does not offer TLS', async () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    const [call, broker] = await Promise.all([
      run(['call', 'calculator.add', '1', '2', '--nats', url, '--tls-ca', ca]),
      run(['broker', '--site', 'T', '--nats', url, '--tls-ca', ca]),
    ]);
    const mismatch = `UNAVAILABLE: cannot connect to NATS at ${url}: TLS mismatch: the server does not offer TLS, but a TLS CA or certificate was given`;
    expect(call.code).toBe(1);
    expect(lines(call.stderr)).toEqual([mismatch]);
    expect(broker.code).toBe(1);
    expect(lines(broker.stderr)).toEqual([mismatch]);
  });
});

describe('cli waiting', { timeout: SPAWNS_TIMEOUT_MS }, () => {
  test('cli wait - broker --wait-for-nats says what it waits for, and gives up after --wait-timeout', async () => {
    const [flag, env] = await Promise.all([
      run(['broker', '--site', 'w', '--wait-for-nats', '--wait-timeout', '2000', '--nats', closed]),
      // --wait-timeout alone (here from the environment) means waiting.
      run(['broker', '--site', 'w', '--nats', closed], { SWITCHBOARD_WAIT_TIMEOUT: '2000' }),
    ]);
    for (const broker of [flag, env]) {
      expect(broker.code, broker.stderr).toBe(1);
      const [first, ...rest] = lines(broker.stderr);
      expect(first).toMatch(
        new RegExp(
          `^\\S+ WARN broker: waiting for NATS at ${literal(closed)} \\(connection refused\\)$`,
        ),
      );
      expect(rest.at(-1)).toMatch(
        new RegExp(
          `^UNAVAILABLE: gave up waiting for NATS at ${literal(closed)} after [\\d.]+ s: connection refused$`,
        ),
      );
    }
  });

  test('cli wait - bridge says which side it waits for, and why, every few seconds', async () => {
    // One notice after 5 s (WAITING_NOTICE_MS), then giving up: 2.5 s apart, room for a busy machine.
    const bridge = start(['bridge', '--local', url, '--remote', closed, '--wait-timeout', '7500']);
    const { code } = await bridge.exited;
    expect(code, bridge.stderr).toBe(1);
    const [first, second, last] = [...bridge.stderrLines.slice(0, 2), bridge.stderrLines.at(-1)];
    const waiting = `NATS at ${literal(closed)}`;
    expect(first).toMatch(
      new RegExp(`^\\S+ WARN bridge: waiting for ${waiting} \\(connection refused\\) side=remote$`),
    );
    expect(second).toMatch(
      new RegExp(
        `^\\S+ WARN bridge: still waiting for ${waiting} after [\\d.]+ s \\(connection refused\\) side=remote$`,
      ),
    );
    expect(last).toMatch(
      new RegExp(`^UNAVAILABLE: gave up waiting for ${waiting} after [\\d.]+ s: `),
    );
  });
});

describe('cli waiting for a broker', { timeout: SPAWNS_TIMEOUT_MS }, () => {
  test('cli wait - serve-example says it waits for a broker to register it', async () => {
    // A prefix no broker serves: nobody answers.
    const args = ['serve-example', '--prefix', 'lonely', '--instance-id', 'lonely-1'];
    const server = start([...args, '--nats', url]);
    await server.waitFor(
      new RegExp(
        `^waiting for a broker at ${literal(url)} to register calculator 1\\.0\\.0 instance lonely-1 \\(no broker has answered yet\\)$`,
        'm',
      ),
      // serve() itself waits 2 s for a broker before it hands over: room for a busy machine.
      30_000,
    );
    server.kill('SIGINT');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  test('cli wait - a bridge with no broker on either side says so every few seconds, and gives up after --wait-timeout', async () => {
    // Both sides reach NATS (the same one, under prefixes no broker serves).
    const bridge = start(['bridge', '--local', url, '--remote', url, '--prefix', 'lonely']);
    const waiting =
      /^\S+ WARN bridge: waiting for a broker on the (local|remote) side \(no broker answered on this site/m;
    const still =
      /^\S+ WARN bridge: still waiting for a broker on the (local|remote) side after [\d.]+ s/m;
    await bridge.waitFor(waiting, 20_000);
    await bridge.waitFor(still, 20_000);
    bridge.kill('SIGINT');
    expect((await bridge.exited).code).toBe(0);
    const timed = await run([
      'bridge',
      '--local',
      url,
      '--remote',
      url,
      '--prefix',
      'lonely',
      '--wait-timeout',
      '1500',
    ]);
    expect(timed.code).toBe(1);
    expect(timed.stderr).toMatch(/^gave up waiting for a broker on each side after 1\.5 s$/m);
  });
});

describe('cli log format', { timeout: SPAWNS_TIMEOUT_MS }, () => {
  test('cli log - --log-format json: every stderr line of a long-running command is a JSON object', async () => {
    const broker = start(['broker', '--site', 'J', '--nats', url, '--log-format', 'json']);
    await broker.waitFor(/serving site J/);
    broker.kill('SIGTERM');
    expect(await broker.exited).toEqual({ code: 0, signal: null });
    const entries = broker.stderrLines.map((line) => JSON.parse(line));
    expect(entries[0]).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      level: 'info',
      component: 'broker',
      msg: expect.stringMatching(new RegExp(`^broker \\S+ serving site J on ${literal(url)}$`)),
    });
    expect(entries.at(-1)).toMatchObject({
      level: 'info',
      msg: expect.stringMatching(/^SIGTERM: stopping broker/),
    });
  });

  test('cli log - SWITCHBOARD_LOG_FORMAT=json applies to the logs and to the failure', async () => {
    const broker = await run(
      ['broker', '--site', 'J', '--wait-timeout', '2000', '--nats', closed],
      {
        SWITCHBOARD_LOG_FORMAT: 'json',
      },
    );
    expect(broker.code).toBe(1);
    const entries = lines(broker.stderr).map((line) => JSON.parse(line));
    expect(entries[0]).toMatchObject({
      level: 'warn',
      component: 'broker',
      msg: `waiting for NATS at ${closed} (connection refused)`,
    });
    expect(entries.at(-1)).toMatchObject({
      level: 'error',
      msg: expect.stringMatching(/^UNAVAILABLE: gave up waiting for NATS at /),
    });
  });
});
