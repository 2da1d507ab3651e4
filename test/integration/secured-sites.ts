/**
 * Secured sites for the integration tests: the material `switchboard secure
 * init` writes (in a temporary directory), a real nats-server started with
 * the config it wrote, and the connection options of each identity, as its
 * env file gives them.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection, type Status } from 'nats';
import { expect } from 'vitest';
import {
  AUTH_FILE,
  type BridgeSide,
  SERVER_CONFIG_FILE,
  secureInit,
} from '../../src/cli/secure/index.js';
import { Broker, type ConnectionOptions } from '../../src/internal.js';
import { startNatsServer } from '../../src/testing/index.js';
import { eventually, type TestSite, track } from './helpers.js';

/** What a site is asked to hold: services (one server identity each) and bridges. */
export interface SecuredSiteSpec {
  services?: string[];
  bridgeTo?: string[];
}

/** A secured site: its NATS (TLS, users with permissions), its material, maybe a broker. */
export interface SecuredSite extends TestSite {
  /** The directory `secure init` wrote. */
  dir: string;
  /** The connection options of an identity (`client`, `server-calculator`, ...). */
  as(identity: string): Promise<ConnectionOptions>;
  /** The connection options of a bridge identity, from its env file for `side`. */
  bridgeSide(identity: string, side: BridgeSide): Promise<ConnectionOptions>;
}

/** The variables of an env file `secure init` wrote. */
export async function readEnvFile(file: string): Promise<Record<string, string>> {
  const text = await readFile(file, 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line.includes('=') && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/**
 * Writes the material of site `name` with `secure init`, starts a nats-server
 * with its config and, unless told otherwise, a broker logged in as `broker`.
 * Everything is closed (and the directory removed) after the test.
 */
export async function startSecuredSite(
  name: string,
  spec: SecuredSiteSpec = {},
  options: {
    broker?: boolean;
    /** Rewrites the users' file before NATS starts (e.g. as an earlier revision wrote it). */
    editAuth?: (text: string) => string;
  } = {},
): Promise<SecuredSite> {
  const dir = await mkdtemp(join(tmpdir(), `switchboard-secured-${name}-`));
  track({ close: () => rm(dir, { recursive: true, force: true }) });
  await secureInit({
    site: name,
    out: dir,
    services: spec.services ?? [],
    bridgeTo: spec.bridgeTo ?? [],
    rotate: [],
    tlsHosts: [],
    prefix: 'sb',
  });
  if (options.editAuth) {
    const auth = join(dir, AUTH_FILE);
    await writeFile(auth, options.editAuth(await readFile(auth, 'utf8')));
  }
  // The fixture names the server on the command line; nats-server 2.9 reloads
  // (as a rotation needs) only when its config file gives the same name.
  const config = join(dir, 'site.conf');
  await writeFile(config, `server_name: "${name}"\ninclude "${SERVER_CONFIG_FILE}"\n`);
  const nats = track(await startNatsServer({ name, backend: 'binary', args: ['-c', config] }));
  const url = nats.url;
  const fromEnvFile = async (file: string, variable: (option: string) => string) => {
    const env = await readEnvFile(join(dir, file));
    return {
      nats: url,
      user: env[variable('USER')],
      pass: env[variable('PASS')],
      inboxPrefix: env[variable('INBOX_PREFIX')],
      tls: { caFile: env[variable('TLS_CA')] },
    } satisfies ConnectionOptions;
  };
  const site: SecuredSite = {
    name,
    nats,
    url,
    dir,
    broker: undefined,
    as: (identity) => fromEnvFile(`${identity}.env`, (option) => `SWITCHBOARD_${option}`),
    bridgeSide: (identity, side) =>
      fromEnvFile(`${identity}.${side}.env`, (o) => `SWITCHBOARD_${side.toUpperCase()}_${o}`),
  };
  if (options.broker !== false) {
    site.broker = track(await Broker.start({ ...(await site.as('broker')), site: name }));
  }
  return site;
}

/** What NATS refused a connection: `publish sb.x`, `subscription sb.y`. */
export interface Refusals {
  readonly seen: string[];
  /** Resolves once NATS has refused `operation` on `subject`; fails after a few seconds. */
  expect(operation: 'publish' | 'subscription', subject: string): Promise<void>;
}

/** Collects the permissions violations NATS reports on `nc`. */
export function refusalsOf(nc: NatsConnection): Refusals {
  const seen: string[] = [];
  const status = nc.status() as AsyncIterable<Status> & { stop(): void };
  void (async () => {
    for await (const s of status) {
      if (s.type === 'error' && s.permissionContext) {
        seen.push(`${s.permissionContext.operation} ${s.permissionContext.subject}`);
      }
    }
  })();
  track({ close: async () => status.stop() });
  return {
    seen,
    expect: async (operation, subject) => {
      const what = `${operation} ${subject}`;
      await eventually(() => seen.includes(what), 5000, `NATS to refuse the ${what}`);
    },
  };
}

/** A plain nats.js connection logged in as an identity (as any process holding it could). */
export async function connectAs(options: ConnectionOptions): Promise<NatsConnection> {
  expect(options.user).toBeDefined();
  return track(
    await connect({
      servers: options.nats,
      user: options.user,
      pass: options.pass,
      inboxPrefix: options.inboxPrefix,
      tls: { caFile: options.tls?.caFile },
    }),
  );
}
