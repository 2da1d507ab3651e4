import { readFileSync } from 'node:fs';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type ConnectionOptions as NatsConnectOptions,
} from 'nats';
import {
  DEFAULT_INBOX_PREFIX,
  DEFAULT_PREFIX,
  type Subjects,
  subjectsFor,
} from '../protocol/index.js';
import { type Logger, silentLogger, throttled } from '../util/index.js';
import { describeConnectError, isRetryableConnectError } from './connect-error.js';
import { checkConnectionOptions } from './connection-check.js';
import { dial } from './dial.js';
import { failHandshakesOnClose } from './handshake-guard.js';
import { packOutboundPooled } from './outbound-pack.js';
import { installProtocolReader } from './protocol-reader.js';

/** TLS files for the NATS connection. */
export interface TlsFiles {
  /** CA certificate (PEM) to verify the server. */
  caFile?: string;
  /** Client certificate (PEM), for mutual TLS. */
  certFile?: string;
  /** Client key (PEM), for mutual TLS. */
  keyFile?: string;
}

/** How a component reaches its site's NATS; shared by every component's options. */
export interface ConnectionOptions {
  /**
   * NATS server URL(s) of the site.
   * @default 'nats://127.0.0.1:4222'
   */
  nats?: string | string[];
  /** An open connection to use instead of `nats`; the component does not close it. */
  connection?: NatsConnection;
  /** NATS user name (with `pass`). */
  user?: string;
  /** NATS password (with `user`). */
  pass?: string;
  /** NATS token. */
  token?: string;
  /** NATS credentials file (JWT + NKey seed). */
  credsFile?: string;
  /** TLS files; setting any of them turns TLS on. */
  tls?: TlsFiles;
  /**
   * Subject prefix; every component of a site must use the same.
   * @default 'sb'
   */
  prefix?: string;
  /**
   * Where this component's reply subjects start: `_INBOX`, or `_INBOX.`
   * followed by tokens of its own (`_INBOX.calculator`). A site that gives
   * each credential an inbox prefix of its own lets NATS permit each one to
   * read only its own replies (see docs/security.md, and `switchboard secure
   * init`, which writes the prefix next to the credential). Replies must stay
   * under `_INBOX.`: an instance refuses to answer anywhere else.
   * @default '_INBOX' (with a borrowed `connection`: its own `inboxPrefix`)
   */
  inboxPrefix?: string;
  /** Where logs go. @default silent */
  logger?: Logger;
  /**
   * Keep retrying the first connection instead of failing at once (long-running
   * agents started before their NATS, as in docker-compose). While it waits,
   * the logger hears what it waits for and why, every few seconds. Failures
   * that waiting does not cure (TLS, credentials) end the wait at once.
   * @default false
   */
  waitForNats?: boolean;
  /**
   * With `waitForNats`, how long to wait for NATS, in milliseconds, before
   * giving up with `UNAVAILABLE`.
   * @default no limit
   */
  waitTimeoutMs?: number;
  /**
   * How long one connection attempt may take, in milliseconds. Attempts
   * repeat while the server is unreachable, so this also bounds how long a
   * component takes to reconnect once a silent network partition heals.
   * @default 2000
   */
  connectTimeoutMs?: number;
  /**
   * How often the connection pings its NATS server, in milliseconds. With
   * {@link maxPingsOut} it says how soon a server gone silent (a partition
   * that drops packets, without any reset) is noticed: after about
   * `pingIntervalMs × (maxPingsOut + 1)`. nats.js would wait two minutes.
   * @default 1000
   */
  pingIntervalMs?: number;
  /**
   * Pings left unanswered before the connection is deemed dead (and the
   * component reconnects, failing the calls it had in flight).
   * @default 2
   */
  maxPingsOut?: number;
  /**
   * How long a lost connection may take to come back before the calls in
   * flight on it are failed (`UNAVAILABLE`, completion `maybe`) and a bridge
   * half withdraws its routes. When it comes back in time (in a NATS cluster,
   * to another node) those calls are probed instead: only the ones that were
   * lost end early. 0 gives up at once.
   * @default 1500 with several NATS URLs (a cluster); 0 with one URL or a borrowed `connection`
   */
  reconnectGraceMs?: number;
}

/** Defaults of the connection timings (see {@link ConnectionOptions}). */
export const CONNECTION_DEFAULTS = Object.freeze({
  connectTimeoutMs: 2000,
  pingIntervalMs: 1000,
  maxPingsOut: 2,
  reconnectWaitMs: 250,
  clusterReconnectGraceMs: 1500,
});

/** The default NATS URL. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** A NATS connection with the facts every component needs about it. */
export interface SiteConnection {
  readonly nc: NatsConnection;
  readonly subjects: Subjects;
  /** Where this component's reply subjects start (see {@link ConnectionOptions.inboxPrefix}). */
  readonly inboxPrefix: string;
  readonly logger: Logger;
  /**
   * The same logger, held to a few lines of each kind per window: for what
   * peers can make us say as often as they like (bad input).
   */
  readonly peerLog: Logger;
  /** How long a lost connection may take to come back ({@link ConnectionOptions.reconnectGraceMs}). */
  readonly reconnectGraceMs: number;
  /** Closes the connection if this component opened it; leaves a borrowed one open. */
  release(): Promise<void>;
}

/** Opens (or borrows) the NATS connection described by `options`. */
export async function openSiteConnection(
  options: ConnectionOptions,
  name: string,
): Promise<SiteConnection> {
  const subjects = subjectsFor(options.prefix ?? DEFAULT_PREFIX);
  const logger = options.logger ?? silentLogger;
  const peerLog = throttled(logger);
  checkConnectionOptions(options);
  if (options.connection) {
    const nc = options.connection;
    const inboxPrefix = options.inboxPrefix ?? borrowedInboxPrefix(nc);
    const reconnectGraceMs = options.reconnectGraceMs ?? 0;
    return {
      nc,
      subjects,
      inboxPrefix,
      logger,
      peerLog,
      reconnectGraceMs,
      release: async () => {},
    };
  }
  const nc = await openCheckedConnection(options, name);
  const cluster = [options.nats ?? []].flat().length > 1;
  return {
    nc,
    subjects,
    inboxPrefix: options.inboxPrefix ?? DEFAULT_INBOX_PREFIX,
    logger,
    peerLog,
    reconnectGraceMs:
      options.reconnectGraceMs ?? (cluster ? CONNECTION_DEFAULTS.clusterReconnectGraceMs : 0),
    release: async () => {
      if (!nc.isClosed()) await nc.close();
    },
  };
}

/**
 * How long a component's connection to this site's NATS may be away and
 * still come back: to the same server after a blip, within a couple of
 * reconnect waits; to another node, when the server says it belongs to a
 * cluster (nats.js then learns the other nodes and moves there), within
 * {@link CONNECTION_DEFAULTS.clusterReconnectGraceMs}. Never less than the
 * connection's own `reconnectGraceMs` (several URLs given, or set).
 */
export function returnGraceMs(conn: SiteConnection): number {
  const info = conn.nc.info;
  const clustered = info?.cluster !== undefined || (info?.connect_urls?.length ?? 0) > 0;
  const floor = clustered
    ? CONNECTION_DEFAULTS.clusterReconnectGraceMs
    : 2 * CONNECTION_DEFAULTS.reconnectWaitMs;
  return Math.max(conn.reconnectGraceMs, floor);
}

/**
 * The inbox prefix a connection opened elsewhere was given (nats.js keeps its
 * options on the connection, though its interface does not say so).
 */
function borrowedInboxPrefix(nc: NatsConnection): string {
  const options = (nc as { options?: NatsConnectOptions }).options;
  return options?.inboxPrefix || DEFAULT_INBOX_PREFIX;
}

/**
 * Opens a NATS connection to `options.nats` as a component opens its own
 * (`options.connection` is not used): with `waitForNats`, waiting until NATS
 * answers; read by Switchboard's protocol reader; its writes joined in
 * Node's buffer pool; a reconnection attempt whose socket closes
 * mid-handshake failed at once. For harnesses that open
 * the connections they hand to components, so that those behave as in a
 * deployment.
 */
export async function openNatsConnection(
  options: ConnectionOptions,
  name: string,
): Promise<NatsConnection> {
  checkConnectionOptions(options);
  return openCheckedConnection(options, name);
}

/** {@link openNatsConnection} with `options` already checked. */
async function openCheckedConnection(
  options: ConnectionOptions,
  name: string,
): Promise<NatsConnection> {
  const logger = options.logger ?? silentLogger;
  const nc = await connectToNats(options, name, logger);
  const onLost = (error: unknown) =>
    logger.warn(
      `a NATS subscriber threw on the last messages of a lost connection: ${String(error)}`,
    );
  if (!installProtocolReader(nc, onLost)) {
    logger.debug('NATS connection read by nats.js (its reader kept)');
  }
  if (!failHandshakesOnClose(nc)) logger.debug('NATS reconnections wait out their connect timeout');
  if (!packOutboundPooled(nc))
    logger.debug('NATS writes joined by nats.js (a buffer of its own each)');
  return nc;
}

/** Connects once, or with `waitForNats` until NATS answers (see {@link dial}). */
function connectToNats(
  options: ConnectionOptions,
  name: string,
  logger: Logger,
): Promise<NatsConnection> {
  const opts = natsConnectOptions(options, name);
  return dial((timeout) => connect({ ...opts, timeout }), {
    what: `NATS at ${[options.nats ?? DEFAULT_NATS_URL].flat().join(', ')}`,
    logger,
    wait: options.waitForNats ?? false,
    waitTimeoutMs: options.waitTimeoutMs,
    attemptMs: options.connectTimeoutMs ?? CONNECTION_DEFAULTS.connectTimeoutMs,
    retryable: isRetryableConnectError,
    describe: (err, attemptMs) =>
      describeConnectError(err, { ...options, connectTimeoutMs: attemptMs }),
  });
}

/** Translates our connection options into nats.js ones. */
export function natsConnectOptions(options: ConnectionOptions, name: string): NatsConnectOptions {
  const servers = options.nats ?? DEFAULT_NATS_URL;
  const opts: NatsConnectOptions = {
    servers,
    name,
    noAsyncTraces: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: CONNECTION_DEFAULTS.reconnectWaitMs,
    timeout: options.connectTimeoutMs ?? CONNECTION_DEFAULTS.connectTimeoutMs,
    pingInterval: options.pingIntervalMs ?? CONNECTION_DEFAULTS.pingIntervalMs,
    maxPingOut: options.maxPingsOut ?? CONNECTION_DEFAULTS.maxPingsOut,
  };
  if (options.user !== undefined) opts.user = options.user;
  if (options.pass !== undefined) opts.pass = options.pass;
  if (options.token !== undefined) opts.token = options.token;
  if (options.inboxPrefix !== undefined) opts.inboxPrefix = options.inboxPrefix;
  if (options.credsFile !== undefined) {
    opts.authenticator = credsAuthenticator(new Uint8Array(readFileSync(options.credsFile)));
  }
  const tls = options.tls;
  if (tls && (tls.caFile || tls.certFile || tls.keyFile)) {
    opts.tls = {};
    if (tls.caFile) opts.tls.caFile = tls.caFile;
    if (tls.certFile) opts.tls.certFile = tls.certFile;
    if (tls.keyFile) opts.tls.keyFile = tls.keyFile;
  }
  return opts;
}
