/**
 * Who gets a credential at one site, and with what role: the plan of
 * `switchboard secure init`, checked in one place. Pure: no files here.
 */
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import {
  DEFAULT_INBOX_PREFIX,
  isValidPrefix,
  NAME_PATTERN,
  type Role,
} from '../../protocol/index.js';

/** What `secure init` is asked for (the command line, parsed). */
export interface SecureInitOptions {
  /** The site whose NATS the material is for. */
  site: string;
  /** Directory the material goes to (created 0700 if missing). */
  out: string;
  /** One server credential per service. */
  services: string[];
  /** One bridge credential per site linked to this one. */
  bridgeTo: string[];
  /** Identities to give a new password even though one exists in `out`. */
  rotate: string[];
  /** Names the server certificate holds besides the defaults. */
  tlsHosts: string[];
  /** Subject prefix of the site. */
  prefix: string;
}

/** One credential of the plan. */
export interface Identity {
  /** File stem and NATS user name: `broker`, `server-calculator`, `bridge-b`. */
  name: string;
  role: Role;
  /** For a server: its service. */
  services?: string[];
  /** For a bridge: the site at the other end. */
  peer?: string;
  /** `_INBOX.<name>`: the only inbox the credential may read. */
  inboxPrefix: string;
  /** What it is for, in words. */
  purpose: string;
}

/** The identities every site has, whatever it serves. */
const ALWAYS: readonly { name: string; role: Role; purpose: string }[] = [
  { name: 'broker', role: 'broker', purpose: "the site's brokers" },
  { name: 'client', role: 'client', purpose: 'callers: call, look up, list' },
  {
    name: 'observer',
    role: 'observer',
    purpose: 'monitoring: look up, list, hear events; no calls',
  },
];

/** A DNS name the test certificate may hold (IP addresses are checked with `isIP`). */
const DNS_NAME =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Characters a directory may hold: it is written, unquoted, into env files. */
const SAFE_PATH = /^[A-Za-z0-9_./@:+,-]+$/;

/**
 * Checks the options of `secure init`; throws a `TypeError` naming the
 * option (as the command line spells it) and what is wrong.
 */
export function checkSecureInitOptions(options: SecureInitOptions): void {
  const fail = (flag: string, problem: string): never => {
    throw new TypeError(`--${flag}: ${problem}`);
  };
  const name = (flag: string, value: string) => {
    if (!NAME_PATTERN.test(value)) {
      fail(
        flag,
        `'${value}' is not a name (letters, digits, _ and -, starting with a letter or _)`,
      );
    }
  };
  name('site', options.site);
  if (!isValidPrefix(options.prefix)) {
    fail('prefix', `'${options.prefix}' is not dot-separated tokens of letters, digits, _ and -`);
  }
  const out = resolve(options.out);
  if (!SAFE_PATH.test(out)) {
    fail('out', `'${out}' holds a blank, quote or other character env files cannot carry`);
  }
  for (const [flag, values] of [
    ['service', options.services],
    ['bridge-to', options.bridgeTo],
  ] as const) {
    const seen = new Set<string>();
    for (const value of values) {
      name(flag, value);
      if (seen.has(value)) fail(flag, `'${value}' is given twice`);
      seen.add(value);
    }
  }
  if (options.bridgeTo.includes(options.site)) {
    fail('bridge-to', `'${options.site}' is this site: a bridge links two sites`);
  }
  for (const host of options.tlsHosts) {
    if (isIP(host) === 0 && !DNS_NAME.test(host)) {
      fail('tls-host', `'${host}' is not a host name or an IP address`);
    }
  }
  const names = planIdentities(options).map((identity) => identity.name);
  for (const rotated of options.rotate) {
    if (!names.includes(rotated)) {
      fail('rotate', `'${rotated}' is not an identity of this site: ${names.join(', ')}`);
    }
  }
}

/** The identities of the site `options` describe: fixed ones, one per service, one per bridge. */
export function planIdentities(
  options: Pick<SecureInitOptions, 'services' | 'bridgeTo'>,
): Identity[] {
  const inbox = (name: string) => `${DEFAULT_INBOX_PREFIX}.${name}`;
  return [
    ...ALWAYS.map((identity) => ({ ...identity, inboxPrefix: inbox(identity.name) })),
    ...options.services.map((service) => ({
      name: `server-${service}`,
      role: 'server' as const,
      services: [service],
      inboxPrefix: inbox(`server-${service}`),
      purpose: `servers of ${service} (and their calls to other services)`,
    })),
    ...options.bridgeTo.map((peer) => ({
      name: `bridge-${peer}`,
      role: 'bridge' as const,
      peer,
      inboxPrefix: inbox(`bridge-${peer}`),
      purpose: `the half at this site of the bridge to site ${peer}`,
    })),
  ];
}

/** The names the test server certificate holds: `localhost`, loopback, `nats`, `nats-<site>`, and more. */
export function certificateHosts(site: string, extra: readonly string[]): string[] {
  return [...new Set(['localhost', '127.0.0.1', '::1', 'nats', `nats-${site}`, ...extra])];
}
