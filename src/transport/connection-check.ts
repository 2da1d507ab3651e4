/**
 * The one check of {@link ConnectionOptions}, before anything connects: NATS
 * URLs, credentials that go together, files that must be readable, timeouts.
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import type { ConnectionOptions } from './connection.js';

/** The options {@link checkConnectionOptions} may name in a message. */
export type ConnectionField =
  | 'nats'
  | 'user'
  | 'pass'
  | 'token'
  | 'credsFile'
  | 'tls.caFile'
  | 'tls.certFile'
  | 'tls.keyFile'
  | 'connectTimeoutMs'
  | 'waitTimeoutMs'
  | 'reconnectGraceMs';

/** How messages name an option: the library's field by default; the CLI passes its flags. */
export type FieldNames = (field: ConnectionField) => string;

/** URL schemes nats.js accepts. */
const SCHEMES = ['nats:', 'tls:', 'ws:', 'wss:'];

const URL_EXPECTED = 'expected e.g. nats://host:4222 or host:4222; schemes nats, tls, ws, wss';

/**
 * What is wrong with a NATS server URL, or undefined if nothing is: a scheme
 * among nats, tls, ws and wss (none means nats), a host, an optional port in
 * 1..65535, and nothing else but `user:pass@`.
 */
export function natsUrlProblem(url: string): string | undefined {
  if (url.trim() === '') return 'it is empty';
  if (/\s/.test(url)) return 'it contains a space';
  const withScheme = url.includes('://') ? url : `nats://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    const port = /^[^/]*\/\/[^/]*:(\d+)(?:\/|$)/.exec(withScheme)?.[1];
    if (port !== undefined && Number(port) > 65_535) return `port ${port} is not in 1..65535`;
    return url.includes('://') ? 'it is not a URL' : 'it is not HOST:PORT';
  }
  if (!SCHEMES.includes(parsed.protocol)) {
    return `unknown scheme '${parsed.protocol.slice(0, -1)}'`;
  }
  if (parsed.hostname === '') return 'it has no host';
  if (parsed.port === '0') return 'port 0 is not in 1..65535';
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search || parsed.hash) {
    return 'it has a path; a NATS URL is scheme://host:port';
  }
  return undefined;
}

/** Why a file cannot be read, or undefined if it can. */
function unreadable(path: string): string | undefined {
  try {
    if (statSync(path).isDirectory()) return 'it is a directory';
    accessSync(path, fsConstants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES') return 'permission denied';
    return code ?? String(err);
  }
}

/**
 * Checks connection options before connecting; throws a `TypeError` naming the
 * option (through `name`) and what is wrong with it. A borrowed `connection`
 * is not checked: it is already open.
 */
export function checkConnectionOptions(
  options: ConnectionOptions,
  name: FieldNames = (field) => field,
): void {
  if (options.connection) return;
  const fail = (field: ConnectionField, problem: string): never => {
    throw new TypeError(`${name(field)}: ${problem}`);
  };
  const refuse = (sentence: string): never => {
    throw new TypeError(sentence);
  };
  const urls = [options.nats ?? []].flat();
  if (options.nats !== undefined && urls.length === 0) fail('nats', 'no URL given');
  for (const url of urls) {
    if (typeof url !== 'string') fail('nats', `expected a URL string, got ${typeof url}`);
    const problem = natsUrlProblem(url);
    if (problem !== undefined)
      fail('nats', `'${url}' is not a NATS URL: ${problem} (${URL_EXPECTED})`);
  }
  const together = (a: ConnectionField, b: ConnectionField, va: unknown, vb: unknown): void => {
    if ((va === undefined) !== (vb === undefined)) {
      const [given, missing] = va === undefined ? [b, a] : [a, b];
      refuse(`${name(given)} needs ${name(missing)} as well`);
    }
  };
  together('user', 'pass', options.user, options.pass);
  together('tls.certFile', 'tls.keyFile', options.tls?.certFile, options.tls?.keyFile);
  if (options.token !== undefined) {
    for (const other of ['user', 'credsFile'] as const) {
      if (options[other] !== undefined)
        refuse(`${name('token')} and ${name(other)} exclude each other`);
    }
  }
  const files: [ConnectionField, string | undefined][] = [
    ['credsFile', options.credsFile],
    ['tls.caFile', options.tls?.caFile],
    ['tls.certFile', options.tls?.certFile],
    ['tls.keyFile', options.tls?.keyFile],
  ];
  for (const [field, path] of files) {
    if (path === undefined) continue;
    const problem = unreadable(path);
    if (problem !== undefined) fail(field, `cannot read ${path} (${problem})`);
  }
  for (const field of ['connectTimeoutMs', 'waitTimeoutMs'] as const) {
    const value = options[field];
    if (value !== undefined && !(value > 0 && Number.isFinite(value))) {
      fail(field, `expected a positive number of milliseconds, got ${value}`);
    }
  }
  const grace = options.reconnectGraceMs;
  if (grace !== undefined && !(grace >= 0 && grace <= MAX_RECONNECT_GRACE_MS)) {
    fail('reconnectGraceMs', `expected 0 to ${MAX_RECONNECT_GRACE_MS} milliseconds, got ${grace}`);
  }
}

/** Longest reconnect grace: calls in flight wait that long for a connection that may not return. */
const MAX_RECONNECT_GRACE_MS = 60_000;
