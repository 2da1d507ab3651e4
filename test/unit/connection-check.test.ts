import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  describeConnectError,
  isRetryableConnectError,
} from '../../src/transport/connect-error.js';
import type { ConnectionOptions } from '../../src/transport/connection.js';
import { checkConnectionOptions, natsUrlProblem } from '../../src/transport/connection-check.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-check-'));
const PEM = join(dir, 'ca.pem');
writeFileSync(PEM, 'not really a certificate');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The message `checkConnectionOptions` throws for `options` (TypeError), or undefined. */
function problem(
  options: ConnectionOptions,
  flags?: (field: string) => string,
): string | undefined {
  try {
    checkConnectionOptions(options, flags);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return (err as Error).message;
  }
}

/** Names options as the CLI does. */
const FLAGS: Record<string, string> = {
  nats: '--nats',
  user: '--user',
  pass: '--pass',
  token: '--token',
  credsFile: '--creds',
  'tls.caFile': '--tls-ca',
  'tls.certFile': '--tls-cert',
  'tls.keyFile': '--tls-key',
};
const flag = (field: string) => FLAGS[field] ?? field;

describe('natsUrlProblem', () => {
  test('connection check - NATS URLs: nats, tls, ws, wss, or HOST:PORT', () => {
    for (const url of [
      'nats://127.0.0.1:4222',
      'tls://nats.example.com:4222',
      'ws://h:8080',
      'wss://h',
      'nats://user:pass@h:4222',
      'h:4222',
      'localhost',
      'nats://[::1]:4222',
      'nats://h:4222/',
    ]) {
      expect(natsUrlProblem(url), url).toBeUndefined();
    }
  });

  test('connection check - what is wrong with a URL that is not one', () => {
    expect(natsUrlProblem('htp:/foo bar')).toBe('it contains a space');
    expect(natsUrlProblem('htp://foo')).toBe("unknown scheme 'htp'");
    expect(natsUrlProblem('http://h:4222')).toMatch(/^unknown scheme 'http'/);
    expect(natsUrlProblem('nats://h:99999')).toBe('port 99999 is not in 1..65535');
    expect(natsUrlProblem('h:99999')).toBe('port 99999 is not in 1..65535');
    expect(natsUrlProblem('nats://h:0')).toBe('port 0 is not in 1..65535');
    expect(natsUrlProblem('nats://h:4222/x')).toMatch(/^it has a path/);
    expect(natsUrlProblem('nats://')).toMatch(/^it (has no host|is not a URL)$/);
    expect(natsUrlProblem('')).toBe('it is empty');
  });
});

describe('checkConnectionOptions', () => {
  test('connection check - good options pass', () => {
    expect(problem({})).toBeUndefined();
    expect(
      problem({ nats: ['nats://a:4222', 'b:4222'], user: 'u', pass: 'p', tls: { caFile: PEM } }),
    ).toBeUndefined();
  });

  test('connection check - an invalid URL is refused before connecting, naming the option', () => {
    expect(problem({ nats: 'htp:/foo bar' })).toBe(
      "nats: 'htp:/foo bar' is not a NATS URL: it contains a space (expected e.g. nats://host:4222 or host:4222; schemes nats, tls, ws, wss)",
    );
    expect(problem({ nats: ['nats://a:4222', 'ftp://b'] }, flag)).toMatch(
      /^--nats: 'ftp:\/\/b' is not a NATS URL: unknown scheme 'ftp'/,
    );
    expect(problem({ nats: [] })).toBe('nats: no URL given');
  });

  test('connection check - a missing file is named, under the name the caller uses', () => {
    expect(problem({ tls: { caFile: '/nope/ca.pem' } })).toBe(
      'tls.caFile: cannot read /nope/ca.pem (no such file)',
    );
    expect(problem({ tls: { caFile: '/nope/ca.pem' } }, flag)).toBe(
      '--tls-ca: cannot read /nope/ca.pem (no such file)',
    );
    expect(problem({ credsFile: dir }, flag)).toBe(
      `--creds: cannot read ${dir} (it is a directory)`,
    );
  });

  test('connection check - credentials that go together, and those that exclude each other', () => {
    expect(problem({ user: 'u' }, flag)).toBe('--user needs --pass as well');
    expect(problem({ pass: 'p' }, flag)).toBe('--pass needs --user as well');
    expect(problem({ tls: { certFile: PEM } }, flag)).toBe('--tls-cert needs --tls-key as well');
    expect(problem({ token: 't', user: 'u', pass: 'p' }, flag)).toBe(
      '--token and --user exclude each other',
    );
    expect(problem({ token: 't', credsFile: PEM }, flag)).toBe(
      '--token and --creds exclude each other',
    );
  });

  test('connection check - timeouts are positive numbers of milliseconds', () => {
    expect(problem({ waitTimeoutMs: 0 })).toBe(
      'waitTimeoutMs: expected a positive number of milliseconds, got 0',
    );
    expect(problem({ connectTimeoutMs: Number.NaN })).toMatch(/^connectTimeoutMs: /);
    expect(problem({ waitTimeoutMs: 1500 })).toBeUndefined();
    expect(problem({ reconnectGraceMs: -1 })).toBe(
      'reconnectGraceMs: expected 0 to 60000 milliseconds, got -1',
    );
    expect(problem({ reconnectGraceMs: Number.POSITIVE_INFINITY })).toMatch(/^reconnectGraceMs: /);
    expect(problem({ reconnectGraceMs: 0 })).toBeUndefined();
  });

  test('connection check - a borrowed connection is not checked', () => {
    const connection = {} as NonNullable<ConnectionOptions['connection']>;
    expect(problem({ connection, nats: 'htp:/foo bar' })).toBeUndefined();
  });
});

describe('describeConnectError', () => {
  const error = (code: string, message = code, extra: object = {}) =>
    Object.assign(new Error(message), { code }, extra);

  test('connection check - nats.js failures in words, with the TLS mismatch named', () => {
    expect(describeConnectError(error('CONNECTION_REFUSED'), {})).toBe('connection refused');
    expect(
      describeConnectError(error('ENOTFOUND', 'getaddrinfo ENOTFOUND x', { hostname: 'x' }), {}),
    ).toBe("no such host 'x'");
    expect(describeConnectError(error('TIMEOUT'), { connectTimeoutMs: 500 })).toBe(
      'no answer within 500 ms',
    );
    expect(describeConnectError(error('SERVER_OPT_NA', 'tls'), { tls: { caFile: PEM } })).toBe(
      'TLS mismatch: the server does not offer TLS, but a TLS CA or certificate was given',
    );
    const untrusted = error(
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'unable to verify the first certificate',
    );
    expect(describeConnectError(untrusted, {})).toMatch(
      /^TLS: the server requires TLS and its certificate is not trusted/,
    );
    expect(describeConnectError(untrusted, { tls: { caFile: PEM } })).toMatch(
      /^TLS: the server's certificate is not signed by the given CA/,
    );
    expect(describeConnectError(error('AUTHORIZATION_VIOLATION'), {})).toMatch(
      /refused the credentials/,
    );
    expect(describeConnectError(new Error('odd'), {})).toBe('odd');
  });

  test('connection check - waiting cures an absent server, not TLS or credentials', () => {
    for (const code of ['CONNECTION_REFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'TIMEOUT', 'ECONNRESET']) {
      expect(isRetryableConnectError(error(code)), code).toBe(true);
    }
    for (const code of [
      'SERVER_OPT_NA',
      'AUTHORIZATION_VIOLATION',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'ERR_TLS_CERT_ALTNAME_INVALID',
    ]) {
      expect(isRetryableConnectError(error(code)), code).toBe(false);
    }
  });
});
