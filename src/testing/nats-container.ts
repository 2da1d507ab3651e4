/**
 * Docker backend of the NATS test fixture: runs a NATS image (the official one
 * unless told otherwise) through testcontainers, which is only loaded when a
 * container is actually started (see testcontainers.ts).
 */

import type { StartedTestContainer } from 'testcontainers';
import { ManagedNatsServer } from './managed-server.js';
import {
  checkCommonOptions,
  DEFAULT_START_TIMEOUT_MS,
  forEachLine,
  LogTail,
  waitForTcpPort,
} from './nats-launcher.js';
import type { NatsServerHandle, NatsServerOptions } from './nats-site.js';
import { loadTestcontainers, type Testcontainers } from './testcontainers.js';

/** Image used by the Docker backend unless overridden by the `image` option or `SWITCHBOARD_NATS_IMAGE`. */
export const DEFAULT_NATS_IMAGE = 'nats:2.10-alpine';

/** Client port inside the container. */
const NATS_CLIENT_PORT = 4222;
/** Where the generated config goes inside the container (the image's own config is not used). */
const CONFIG_PATH = '/etc/nats/switchboard.conf';
/** Grace period between SIGTERM and SIGKILL in `close()` (Docker's stop timeout). */
const KILL_GRACE_MS = 5_000;

/** The image the Docker backend will run: `override`, else `SWITCHBOARD_NATS_IMAGE`, else {@link DEFAULT_NATS_IMAGE}. */
export function natsImage(override?: string): string {
  return override || process.env.SWITCHBOARD_NATS_IMAGE || DEFAULT_NATS_IMAGE;
}

interface ContainerSpec {
  image: string;
  name: string;
  config: string;
  startTimeoutMs: number;
  log: ((line: string) => void) | undefined;
}

interface RunningContainer {
  container: StartedTestContainer;
  host: string;
  port: number;
}

async function runContainer(
  tc: Testcontainers,
  spec: ContainerSpec,
  hostPort: number | undefined,
): Promise<RunningContainer> {
  const tail = new LogTail();
  const deadline = Date.now() + spec.startTimeoutMs;
  const definition = new tc.GenericContainer(spec.image)
    .withExposedPorts(
      hostPort === undefined ? NATS_CLIENT_PORT : { container: NATS_CLIENT_PORT, host: hostPort },
    )
    .withCopyContentToContainer([{ content: spec.config, target: CONFIG_PATH }])
    // Flags only (no executable): the alpine image's entrypoint prepends `nats-server`,
    // and the entrypoint of the scratch image and of scripts/offline-images.sh's
    // image *is* nats-server, so every variant works.
    .withCommand(['--config', CONFIG_PATH, '--server_name', spec.name])
    .withWaitStrategy(tc.Wait.forLogMessage(/Server is ready/))
    .withStartupTimeout(spec.startTimeoutMs)
    .withLogConsumer((stream) => {
      // The log stream is best effort: an error on it must not crash the process.
      stream.on('error', () => undefined);
      forEachLine(stream, (line) => {
        tail.push(line);
        spec.log?.(`[${spec.name}] ${line}`);
      });
    });

  let container: StartedTestContainer;
  try {
    container = await definition.start();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const hint = /container runtime/i.test(reason)
      ? ' (no Docker engine answered: start one, or use the local nats-server with SWITCHBOARD_NATS_BACKEND=binary)'
      : '';
    throw new Error(
      `NATS container "${spec.name}" (${spec.image}${hostPort === undefined ? '' : `, host port ${hostPort}`}) failed to start: ${reason}${hint}. Last log lines:\n${tail.format()}`,
      { cause: error },
    );
  }
  const host = container.getHost();
  const port = container.getMappedPort(NATS_CLIENT_PORT);
  try {
    await waitForTcpPort(host, port, Math.max(deadline, Date.now() + 1_000));
  } catch (error) {
    await container.stop({ timeout: 0, remove: true }).catch(() => undefined);
    throw new Error(
      `NATS container "${spec.name}" is ready but ${host}:${port} does not accept connections. Last log lines:\n${tail.format()}`,
      { cause: error },
    );
  }
  return { container, host, port };
}

class DockerNatsServer extends ManagedNatsServer<StartedTestContainer> {
  readonly backend = 'docker' as const;
  readonly pid = undefined;

  constructor(
    name: string,
    first: RunningContainer,
    private readonly tc: Testcontainers,
    private readonly spec: ContainerSpec,
  ) {
    super(name, `NATS container "${name}"`, first.container, first.host, first.port);
  }

  protected async kill(container: StartedTestContainer): Promise<void> {
    // timeout 0 = SIGKILL straight away; the container is removed, freeing the host port.
    await container.stop({ timeout: 0, remove: true });
  }

  protected async terminate(container: StartedTestContainer): Promise<void> {
    await container.stop({ timeout: KILL_GRACE_MS, remove: true });
  }

  /**
   * Docker may map a different host port when a container restarts, so instead
   * a fresh container is created with the host port pinned to the original one.
   */
  protected async launch(): Promise<StartedTestContainer> {
    const next = await runContainer(this.tc, this.spec, this.port);
    if (next.port !== this.port) {
      await next.container.stop({ timeout: 0, remove: true }).catch(() => undefined);
      throw new Error(
        `NATS container "${this.name}" came back on port ${next.port} instead of ${this.port}; restart is unsupported by this container runtime`,
      );
    }
    return next.container;
  }
}

/**
 * Starts NATS in a container of {@link natsImage} (Docker backend of
 * `startNatsServer`). Containers left behind by a crashed process are removed
 * by testcontainers' reaper (Ryuk), unless `TESTCONTAINERS_RYUK_DISABLED=true`
 * (where no registry serves the Ryuk image): then `close()` is the only
 * cleanup. `options.args` is ignored; `host`, `urlHost`, `wrapper` and
 * `monitor` are refused; `startTimeoutMs` does not include pulling the image.
 * @throws {TestcontainersMissingError} when `testcontainers` is not installed.
 */
export async function startNatsContainer(
  options: NatsServerOptions = {},
): Promise<NatsServerHandle> {
  checkCommonOptions(options);
  const binaryOnly = (['host', 'urlHost', 'wrapper', 'monitor'] as const).filter(
    (field) => options[field] !== undefined && options[field] !== false,
  );
  if (binaryOnly.length > 0) {
    throw new TypeError(
      `${binaryOnly.join(', ')}: option(s) of the binary backend only, not of containers`,
    );
  }
  const tc = await loadTestcontainers();
  const name = options.name || 'nats';
  const config =
    `port: ${NATS_CLIENT_PORT}\n` +
    (options.maxPayload !== undefined ? `max_payload: ${options.maxPayload}\n` : '');
  const spec: ContainerSpec = {
    image: natsImage(options.image),
    name,
    config,
    startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    log: options.log,
  };
  const first = await runContainer(tc, spec, options.port);
  return new DockerNatsServer(name, first, tc, spec);
}
