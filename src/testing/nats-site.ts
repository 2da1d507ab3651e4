/**
 * `startNatsServer`: one real NATS server per site, for integration tests and
 * the demo. Spawns the local `nats-server` binary unless a container is asked
 * for (option `backend`, or env `SWITCHBOARD_NATS_BACKEND`): the binary starts
 * in milliseconds, a container in seconds.
 */

import { startNatsBinary } from './nats-launcher.js';
import { loadTestcontainers } from './testcontainers.js';

/** Where a NATS server runs. */
export type NatsBackend = 'binary' | 'docker';

/** Options of {@link startNatsServer}. */
export interface NatsServerOptions {
  /** Name used in logs and the server's `server_name`, e.g. the site name. @default "nats" */
  name?: string;
  /** Extra nats-server CLI args (binary backend only), e.g. `['--max_traced_msg_len', '64']`. @default [] */
  args?: string[];
  /**
   * Max payload in bytes (written to a config file: nats-server has no CLI flag
   * for it; it may not exceed 64 MiB). @default undefined (server default, 1 MiB)
   */
  maxPayload?: number;
  /** Milliseconds to wait until it accepts connections (Docker: image pull excluded). @default 10000 */
  startTimeoutMs?: number;
  /** Fixed host port. @default a free port (binary: chosen by nats-server `-p -1` on 127.0.0.1; Docker: mapped by Docker) */
  port?: number;
  /**
   * Backend to use; overrides env `SWITCHBOARD_NATS_BACKEND` (`docker`, `binary` or `auto`).
   * `docker` runs a container through testcontainers (an optional peer
   * dependency); `auto` uses Docker when an engine answers, else the binary.
   * @default "binary" (or the env variable when set)
   */
  backend?: NatsBackend | 'auto';
  /** Image for the Docker backend. @default env `SWITCHBOARD_NATS_IMAGE`, else "nats:2.10-alpine" */
  image?: string;
  /** Receives every log line of the server, prefixed with `[name] `. @default undefined (discarded) */
  log?: (line: string) => void;
  /**
   * Address nats-server listens on (binary backend only), and the host of
   * `url` unless `urlHost` says otherwise. `0.0.0.0` listens on every address
   * (of a network namespace, say).
   * @default "127.0.0.1"
   */
  host?: string;
  /**
   * Host written in `url` and probed until the server accepts connections
   * (binary backend only), for when clients reach it by another address than
   * `host`: e.g. `host: '0.0.0.0'` in a network namespace that this process
   * reaches through a veth address.
   * @default `host`, or "127.0.0.1" when `host` is a wildcard address
   */
  urlHost?: string;
  /**
   * Command the binary runs through (binary backend only), e.g.
   * `['ip', 'netns', 'exec', 'site-a']` to run it in a network namespace. The
   * wrapper must exec nats-server (as `ip netns exec` does), so that `pid`,
   * `stop()` and `close()` reach the server itself.
   * @default [] (nats-server is spawned directly)
   */
  wrapper?: string[];
  /**
   * Serve nats-server's HTTP monitoring (`/varz`, `/connz`, `/routez`...) on a
   * free port, at `monitorUrl` (binary backend only).
   * @default false
   */
  monitor?: boolean;
}

/** A running (or stopped) NATS server started by {@link startNatsServer}. */
export interface NatsServerHandle {
  /** The `name` option. */
  readonly name: string;
  /** Client URL, e.g. `nats://127.0.0.1:43123`; unchanged by `restart()`. */
  readonly url: string;
  /** Host port of {@link NatsServerHandle.url}. */
  readonly port: number;
  /** Which backend runs it. */
  readonly backend: NatsBackend;
  /** PID of the current nats-server process (binary backend only). */
  readonly pid?: number;
  /** HTTP monitoring endpoint, e.g. `http://127.0.0.1:8222`, with the `monitor` option; unchanged by `restart()`. */
  readonly monitorUrl?: string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); safe to call twice; resolves when the process has exited. */
  close(): Promise<void>;
  /** Stops the server abruptly (SIGKILL) but keeps the handle so `restart()` can bring it back on the same port. */
  stop(): Promise<void>;
  /** Starts the server again on the same port (after `stop()`, or kills it first if running). Resolves when it accepts connections. */
  restart(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Env variable choosing the backend: `docker`, `binary` or `auto` (unset: `binary`). */
export const NATS_BACKEND_ENV = 'SWITCHBOARD_NATS_BACKEND';
/** How long the Docker probe may take before Docker is deemed absent. */
const DOCKER_PROBE_TIMEOUT_MS = 3_000;

let dockerProbe: Promise<boolean> | undefined;

async function probeDocker(timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const attempt = (async () => {
    const { getContainerRuntimeClient } = await loadTestcontainers();
    await getContainerRuntimeClient();
    return true;
  })().catch(() => false);
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether a container runtime (Docker, Podman...) answers testcontainers
 * (false when testcontainers is not installed). The first answer is cached for
 * the life of the process.
 *
 * @param timeoutMs how long the first probe may take. @default 3000
 */
export function isDockerAvailable(timeoutMs = DOCKER_PROBE_TIMEOUT_MS): Promise<boolean> {
  dockerProbe ??= probeDocker(timeoutMs);
  return dockerProbe;
}

function backendFromEnv(): NatsBackend | 'auto' {
  const raw = process.env[NATS_BACKEND_ENV]?.trim().toLowerCase();
  if (!raw) return 'binary';
  if (raw === 'docker' || raw === 'binary' || raw === 'auto') return raw;
  throw new Error(
    `${NATS_BACKEND_ENV} must be "docker", "binary" or "auto", got "${process.env[NATS_BACKEND_ENV]}"`,
  );
}

/**
 * The backend {@link startNatsServer} would use: `requested`, else env
 * `SWITCHBOARD_NATS_BACKEND`, else the binary; `auto` is Docker when an engine
 * answers, else the binary.
 */
export async function resolveNatsBackend(requested?: NatsBackend | 'auto'): Promise<NatsBackend> {
  const choice = requested ?? backendFromEnv();
  if (choice !== 'auto') return choice;
  return (await isDockerAvailable()) ? 'docker' : 'binary';
}

/**
 * Starts a NATS server and resolves once it accepts client connections.
 *
 * @example
 * ```ts
 * await using paris = await startNatsServer({ name: 'paris' });
 * const nc = await connect({ servers: paris.url });
 * ```
 * @throws {NatsServerNotFoundError} on the binary backend when `nats-server` is missing.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const backend = await resolveNatsBackend(options.backend);
  if (backend === 'docker') {
    const { startNatsContainer } = await import('./nats-container.js');
    return startNatsContainer(options);
  }
  return startNatsBinary(options);
}
