/**
 * Binary backend of the NATS test fixture: spawns the local `nats-server`
 * executable (on a loopback port unless told otherwise, through a wrapper
 * command such as `ip netns exec` when given one) and supervises it.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, rmSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join, resolve as resolvePath } from 'node:path';
import { ManagedNatsServer } from './managed-server.js';
import type { NatsServerHandle, NatsServerOptions } from './nats-site.js';

/** Default for {@link NatsServerOptions.startTimeoutMs}. */
export const DEFAULT_START_TIMEOUT_MS = 10_000;
/** Grace period between SIGTERM and SIGKILL in `close()`. */
const KILL_GRACE_MS = 5_000;
/** How many log lines are kept for error messages. */
const LOG_TAIL_LINES = 50;
/** Loopback address the binary backend binds to. */
const LOOPBACK = '127.0.0.1';

const INSTALL_HINT =
  'Install it with `sudo apt-get install nats-server` (Debian/Ubuntu), `brew install nats-server` (macOS) ' +
  'or from https://github.com/nats-io/nats-server/releases, or set NATS_SERVER_BIN=/path/to/nats-server. ' +
  'Alternatively start a Docker engine and set SWITCHBOARD_NATS_BACKEND=docker.';

/** Directories searched after `PATH` (sbin directories are often missing from a user's PATH). */
const EXTRA_SEARCH_DIRS = [
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/bin',
  '/opt/homebrew/bin',
  join(homedir(), 'go', 'bin'),
];

/** Thrown when no usable `nats-server` executable can be found; the message says how to install one. */
export class NatsServerNotFoundError extends Error {
  override readonly name = 'NatsServerNotFoundError';

  constructor(detail?: string) {
    const where =
      detail ??
      (process.env.NATS_SERVER_BIN
        ? `NATS_SERVER_BIN=${process.env.NATS_SERVER_BIN} is not an executable file`
        : `not found on PATH nor in ${EXTRA_SEARCH_DIRS.join(', ')}`);
    super(`nats-server binary not available (${where}). ${INSTALL_HINT}`);
  }
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function searchDirs(fileName: string): string | undefined {
  const names =
    process.platform === 'win32' && !fileName.toLowerCase().endsWith('.exe')
      ? [`${fileName}.exe`, fileName]
      : [fileName];
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_SEARCH_DIRS];
  for (const dir of dirs) {
    if (dir === '') continue;
    for (const name of names) {
      const candidate = join(dir, name);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * Locates the `nats-server` executable: `NATS_SERVER_BIN` when set (a path, or a
 * bare name looked up like a command), else `PATH` plus the usual install
 * directories (`/usr/sbin`, `/usr/local/bin`...).
 *
 * A set but unusable `NATS_SERVER_BIN` is never silently replaced by a PATH lookup.
 *
 * @returns the absolute path, or `undefined` when there is none.
 */
export function findNatsServerBinary(): string | undefined {
  const fromEnv = process.env.NATS_SERVER_BIN?.trim();
  if (fromEnv) {
    if (fromEnv.includes('/') || fromEnv.includes('\\')) {
      const path = resolvePath(fromEnv);
      return isExecutableFile(path) ? path : undefined;
    }
    return searchDirs(fromEnv);
  }
  return searchDirs('nats-server');
}

// ---------------------------------------------------------------------------
// Shared helpers (also used by the Docker backend).

/** Lines worth quoting even after they scrolled out of the tail (usage errors, fatal errors). */
const NOTABLE_LINE_RE = /\[(?:FTL|ERR)\]|flag provided but not defined|^nats-server: /;

/** Keeps the last lines of a server's log (plus its error lines), for error messages. @internal */
export class LogTail {
  private readonly lines: string[] = [];
  private readonly notable: string[] = [];

  constructor(private readonly max = LOG_TAIL_LINES) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) {
      const dropped = this.lines.shift();
      if (dropped !== undefined && NOTABLE_LINE_RE.test(dropped) && this.notable.length < 5) {
        this.notable.push(dropped);
      }
    }
  }

  /** The kept lines as an indented block, or a note that there were none. */
  format(): string {
    if (this.lines.length === 0) return '  (no log output)';
    const earlier = this.notable.map((line) => `  ${line}`).join('\n');
    const last = this.lines.map((line) => `  ${line}`).join('\n');
    return earlier === '' ? last : `${earlier}\n  ...\n${last}`;
  }
}

/**
 * Calls `onLine` for every complete line of a text stream (the last, unterminated
 * line is flushed at the end of the stream). @internal
 */
export function forEachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = '';
  stream.on('data', (chunk: Buffer | string) => {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      onLine(pending.slice(0, newline).replace(/\r$/, ''));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (pending !== '') onLine(pending);
    pending = '';
  });
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function tryConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Resolves once `host:port` accepts a TCP connection; rejects after `deadline`
 * (epoch ms) or when `signal` aborts. @internal
 */
export async function waitForTcpPort(
  host: string,
  port: number,
  deadline: number,
  signal?: AbortSignal,
): Promise<void> {
  for (;;) {
    if (signal?.aborted) throw new Error(`gave up waiting for ${host}:${port}`);
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`${host}:${port} does not accept connections`);
    if (await tryConnect(host, port, Math.min(1_000, remaining))) return;
    await delay(Math.min(50, Math.max(0, deadline - Date.now())), signal);
  }
}

// ---------------------------------------------------------------------------
// Child process bookkeeping: no nats-server outlives this process.

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function killEverythingSync(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // best effort
    }
  }
  liveChildren.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  tempDirs.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killEverythingSync);
}

/** One spawned nats-server process. */
interface ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** Port of its cluster routes, when it is a cluster node. */
  readonly routePort: number | undefined;
  /** Port of its HTTP monitoring, when asked for. */
  readonly monitorPort: number | undefined;
  /** Resolves when the process has exited (or failed to spawn). */
  readonly exited: Promise<void>;
  hasExited(): boolean;
}

/** How a node joins its cluster (see nats-cluster.ts). @internal */
export interface ClusterSpec {
  /** `cluster_name` of every node. */
  name: string;
  /** Address the route listener binds to. */
  host: string;
  /** Route port; `-1` lets the server pick a free one. */
  port: number;
  /** Route URLs of the other nodes to solicit, asked at every launch (they are learnt as nodes start). */
  routes(): readonly string[];
}

interface SpawnSpec {
  bin: string;
  name: string;
  /** Address nats-server listens on (`-a`). */
  host: string;
  /** Address the readiness probe connects to (the host of the handle's URL). */
  urlHost: string;
  /** Command prefix the binary runs through (e.g. `ip netns exec NS`); empty: none. */
  wrapper: readonly string[];
  /** `-1` lets the server pick a free port. */
  port: number;
  /** Monitoring port (`-1`: a free one); `undefined`: no monitoring. */
  monitorPort: number | undefined;
  cluster: ClusterSpec | undefined;
  configFile: string | undefined;
  extraArgs: readonly string[];
  startTimeoutMs: number;
  log: ((line: string) => void) | undefined;
}

const LISTENING_RE = /Listening for client connections on (\S+):(\d+)\s*$/;
const ROUTES_RE = /Listening for route connections on (\S+):(\d+)\s*$/;
const MONITOR_RE = /Starting http monitor on (\S+):(\d+)\s*$/;
const READY_RE = /Server is ready/;

/** nats-server's command line for `spec`. */
function serverArgs(spec: SpawnSpec): string[] {
  const args = [
    ...(spec.configFile !== undefined ? ['-c', spec.configFile] : []),
    '-a',
    spec.host,
    '-p',
    String(spec.port),
    '--server_name',
    spec.name,
  ];
  if (spec.monitorPort !== undefined) args.push('-m', String(spec.monitorPort));
  if (spec.cluster !== undefined) {
    const { name, host, port } = spec.cluster;
    args.push('--cluster', `nats://${host}:${port}`, '--cluster_name', name);
    const routes = spec.cluster.routes();
    if (routes.length > 0) args.push('--routes', routes.join(','));
  }
  return [...args, ...spec.extraArgs];
}

function describeExit(child: ChildProcess): string {
  return child.signalCode !== null ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
}

/**
 * Whether a nats-server gets a process group of its own, out of reach of the
 * terminal's Ctrl-C. In the terminal's group it gets SIGINT at the same moment
 * as this process and stops before this process has closed what uses it (the
 * demo's bridges then warn that they lost it). So when this process handles
 * SIGINT itself, and will close the server last, the server is detached; when
 * it does not, Ctrl-C ends this process without closing anything, and the
 * server must get the signal too rather than outlive it. Either way `close()`
 * and the exit hook signal the server by its pid.
 */
function ownProcessGroup(): boolean {
  return process.platform !== 'win32' && process.listenerCount('SIGINT') > 0;
}

/** Spawns nats-server and resolves once it is ready and accepts TCP connections. */
function spawnServer(spec: SpawnSpec): Promise<ServerProcess> {
  const args = serverArgs(spec);
  // The wrapper (e.g. `ip netns exec NS`) must exec nats-server, so the pid stays the server's.
  const [command, ...commandArgs] = [...spec.wrapper, spec.bin, ...args] as [string, ...string[]];
  const tail = new LogTail();
  installExitHook();
  const child = spawn(command, commandArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    windowsHide: true,
    detached: ownProcessGroup(),
  });

  let exitedFlag = false;
  const exited = new Promise<void>((resolve) => {
    const markExited = () => {
      exitedFlag = true;
      liveChildren.delete(child);
      resolve();
    };
    child.once('exit', markExited);
    // A failed spawn emits 'error' (and 'close') but never 'exit'.
    child.once('close', markExited);
    child.on('error', () => {
      if (child.pid === undefined) markExited();
    });
  });
  if (child.pid !== undefined) liveChildren.add(child);
  const proc: ServerProcess = {
    child,
    port: spec.port,
    routePort: undefined,
    monitorPort: undefined,
    exited,
    hasExited: () => exitedFlag,
  };

  return new Promise<ServerProcess>((resolve, reject) => {
    let settled = false;
    let listenPort: number | undefined;
    let routePort: number | undefined;
    let monitorPort: number | undefined;
    let ready = false;
    let probing = false;
    const probeAbort = new AbortController();
    const deadline = Date.now() + spec.startTimeoutMs;

    const cleanup = () => {
      settled = true;
      clearTimeout(timer);
      probeAbort.abort();
      child.off('close', onEarlyClose);
      child.off('error', onError);
    };
    const fail = (error: Error) => {
      if (settled) return;
      cleanup();
      if (!exitedFlag) child.kill('SIGKILL');
      // Reject only once the process is gone, so a failed start leaves nothing behind.
      void exited.then(() => reject(error));
    };
    const failWithLogs = (what: string) =>
      fail(
        new Error(
          `nats-server "${spec.name}" ${what} (${[command, ...commandArgs].join(' ')}). Last log lines:\n${tail.format()}`,
        ),
      );

    const timer = setTimeout(
      () => failWithLogs(`did not become ready within ${spec.startTimeoutMs} ms`),
      spec.startTimeoutMs,
    );
    // 'close' rather than 'exit': by then the whole log has been read.
    const onEarlyClose = () => failWithLogs(`exited during startup with ${describeExit(child)}`);
    const onError = (error: NodeJS.ErrnoException) => {
      if (spec.wrapper.length > 0 && (error.code === 'ENOENT' || error.code === 'EACCES')) {
        fail(
          new Error(
            `nats-server "${spec.name}": cannot execute the wrapper ${command}: ${error.code}`,
          ),
        );
      } else if (error.code === 'ENOENT' || error.code === 'EACCES') {
        fail(new NatsServerNotFoundError(`cannot execute ${spec.bin}: ${error.code}`));
      } else {
        fail(
          new Error(`nats-server "${spec.name}" failed to spawn: ${error.message}`, {
            cause: error,
          }),
        );
      }
    };
    child.once('close', onEarlyClose);
    child.once('error', onError);

    const maybeProbe = () => {
      if (settled || probing || !ready || listenPort === undefined) return;
      // A cluster node logs its route listener just after "Server is ready".
      if (spec.cluster !== undefined && routePort === undefined) return;
      if (spec.monitorPort !== undefined && monitorPort === undefined) return;
      probing = true;
      const port = listenPort;
      waitForTcpPort(spec.urlHost, port, deadline, probeAbort.signal).then(
        () => {
          if (settled) return;
          cleanup();
          resolve({ ...proc, port, routePort, monitorPort });
        },
        (error: unknown) =>
          failWithLogs(
            `never accepted connections: ${error instanceof Error ? error.message : error}`,
          ),
      );
    };

    const onLine = (line: string) => {
      tail.push(line);
      spec.log?.(`[${spec.name}] ${line}`);
      if (settled) return;
      const listening = LISTENING_RE.exec(line);
      if (listening?.[2] !== undefined) listenPort = Number(listening[2]);
      const routes = ROUTES_RE.exec(line);
      if (routes?.[2] !== undefined) routePort = Number(routes[2]);
      const monitor = MONITOR_RE.exec(line);
      if (monitor?.[2] !== undefined) monitorPort = Number(monitor[2]);
      if (READY_RE.test(line)) ready = true;
      maybeProbe();
    };
    if (child.stderr) forEachLine(child.stderr, onLine);
    if (child.stdout) forEachLine(child.stdout, onLine);
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
async function terminate(proc: ServerProcess, graceMs: number): Promise<void> {
  if (proc.hasExited()) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (!proc.hasExited()) proc.child.kill('SIGKILL');
  }, graceMs);
  try {
    await proc.exited;
  } finally {
    clearTimeout(timer);
  }
}

async function killNow(proc: ServerProcess): Promise<void> {
  if (proc.hasExited()) return;
  proc.child.kill('SIGKILL');
  await proc.exited;
}

/** The binary backend's handle; also a node of `startNatsCluster`. @internal */
export class BinaryNatsServer extends ManagedNatsServer<ServerProcess> {
  readonly backend = 'binary' as const;
  private lastPid: number | undefined;
  private lastRoutePort: number | undefined;
  private lastMonitorPort: number | undefined;

  constructor(
    name: string,
    first: ServerProcess,
    private readonly spec: SpawnSpec,
    private readonly configDir: string | undefined,
  ) {
    super(name, `nats-server "${name}"`, first, spec.urlHost, first.port);
    this.remember(first);
  }

  private remember(proc: ServerProcess): void {
    this.lastPid = proc.child.pid;
    this.lastRoutePort = proc.routePort;
    this.lastMonitorPort = proc.monitorPort;
  }

  /** PID of the current (or last) nats-server process. */
  get pid(): number | undefined {
    return this.lastPid;
  }

  /** Port of the cluster routes of a cluster node; unchanged by `restart()`. */
  get routePort(): number | undefined {
    return this.lastRoutePort;
  }

  /** Monitoring endpoint, with the `monitor` option; unchanged by `restart()`. */
  get monitorUrl(): string | undefined {
    return this.lastMonitorPort === undefined
      ? undefined
      : `http://${this.spec.urlHost}:${this.lastMonitorPort}`;
  }

  protected kill(proc: ServerProcess): Promise<void> {
    return killNow(proc);
  }

  protected terminate(proc: ServerProcess): Promise<void> {
    return terminate(proc, KILL_GRACE_MS);
  }

  /** A fresh process on the same client, route and monitoring ports. */
  protected async launch(): Promise<ServerProcess> {
    const { cluster, monitorPort } = this.spec;
    const next = await spawnServer({
      ...this.spec,
      port: this.port,
      monitorPort: monitorPort === undefined ? undefined : (this.lastMonitorPort ?? monitorPort),
      cluster: cluster === undefined ? undefined : { ...cluster, port: this.lastRoutePort ?? -1 },
    });
    this.remember(next);
    return next;
  }

  /** Removes the generated config directory. */
  protected override async afterClose(): Promise<void> {
    if (this.configDir !== undefined) {
      tempDirs.delete(this.configDir);
      await rm(this.configDir, { recursive: true, force: true });
    }
  }
}

/** Validates the options shared by both backends. @internal */
export function checkCommonOptions(options: NatsServerOptions): void {
  const { maxPayload, port, startTimeoutMs } = options;
  if (maxPayload !== undefined && (!Number.isSafeInteger(maxPayload) || maxPayload <= 0)) {
    throw new RangeError(`maxPayload must be a positive integer, got ${maxPayload}`);
  }
  if (port !== undefined && (!Number.isInteger(port) || port <= 0 || port > 65_535)) {
    throw new RangeError(`port must be an integer in 1..65535, got ${port}`);
  }
  if (startTimeoutMs !== undefined && !(startTimeoutMs > 0)) {
    throw new RangeError(`startTimeoutMs must be positive, got ${startTimeoutMs}`);
  }
  for (const field of ['host', 'urlHost'] as const) {
    const value = options[field];
    if (value !== undefined && (typeof value !== 'string' || !/^[\w.:[\]-]+$/.test(value))) {
      throw new TypeError(`${field} must be a host name or an IP address, got ${String(value)}`);
    }
  }
  const { wrapper } = options;
  if (
    wrapper !== undefined &&
    !(Array.isArray(wrapper) && wrapper.every((a) => typeof a === 'string' && a !== ''))
  ) {
    throw new TypeError(
      'wrapper must be a list of non-empty strings (a command and its arguments)',
    );
  }
}

/** Whether `host` means every address (then the URL names loopback unless told otherwise). */
function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/**
 * Starts the local `nats-server` binary (binary backend of `startNatsServer`),
 * on 127.0.0.1 unless `options.host` says otherwise. `maxPayload` is passed
 * through a generated config file, as nats-server has no CLI flag for it.
 *
 * @throws {NatsServerNotFoundError} when no binary is found (see {@link findNatsServerBinary}).
 */
export function startNatsBinary(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  return startBinaryNode(options, undefined);
}

/**
 * {@link startNatsBinary}, as a node of a cluster when `cluster` is given. @internal
 */
export async function startBinaryNode(
  options: NatsServerOptions,
  cluster: ClusterSpec | undefined,
): Promise<BinaryNatsServer> {
  checkCommonOptions(options);
  const bin = findNatsServerBinary();
  if (bin === undefined) throw new NatsServerNotFoundError();
  const name = options.name || 'nats';
  const host = options.host ?? LOOPBACK;

  let configDir: string | undefined;
  let configFile: string | undefined;
  if (options.maxPayload !== undefined) {
    configDir = await mkdtemp(join(tmpdir(), 'switchboard-nats-'));
    tempDirs.add(configDir);
    configFile = join(configDir, 'nats-server.conf');
    await writeFile(configFile, `max_payload: ${options.maxPayload}\n`);
  }

  const spec: SpawnSpec = {
    bin,
    name,
    host,
    urlHost: options.urlHost ?? (isWildcard(host) ? LOOPBACK : host),
    wrapper: [...(options.wrapper ?? [])],
    port: options.port ?? -1,
    monitorPort: options.monitor ? -1 : undefined,
    cluster,
    configFile,
    extraArgs: [...(options.args ?? [])],
    startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    log: options.log,
  };
  try {
    const first = await spawnServer(spec);
    return new BinaryNatsServer(name, first, spec, configDir);
  } catch (error) {
    if (configDir !== undefined) {
      tempDirs.delete(configDir);
      await rm(configDir, { recursive: true, force: true });
    }
    throw error;
  }
}
