import {
  Bridge,
  Broker,
  Client,
  type Logger,
  type ServerProxy,
  type ServiceDefinition,
  serve,
} from '../../index.js';
import { type NatsServerHandle, startNatsServer } from '../../testing/index.js';
import type { CliIo } from '../io.js';
import { cliLogger, type LogArgs } from '../logging.js';
import { DemoFailure } from './narrator.js';

/** Where the demo's nats-servers run: the local binary, Docker, or Docker when it answers. */
export const NATS_BACKENDS = ['binary', 'docker', 'auto'] as const;
export type DemoNatsBackend = (typeof NATS_BACKENDS)[number];

/** One site of the demo mesh: a nats-server of its own. */
export interface DemoSite {
  readonly name: string;
  readonly url: string;
  readonly nats: NatsServerHandle;
}

interface Closeable {
  close(): Promise<void>;
}

/** What {@link DemoMesh.close} did. */
export interface ClosedMesh {
  /** What was closed, in order. */
  closed: string[];
  /** Processes of the nats-servers (binary backend), with whether each has exited. */
  natsPids: { pid: number; exited: boolean }[];
}

/**
 * The parts of the demo mesh, all on this machine: nats-servers, brokers,
 * bridges, servers, clients. Owns each from its start and closes them in
 * reverse start order (clients and servers before bridges, brokers, NATS).
 */
export class DemoMesh {
  readonly #io: CliIo;
  readonly #logging: LogArgs;
  readonly #backend: DemoNatsBackend;
  /** What is running, in start order. */
  readonly #running: { what: string; resource: Closeable }[] = [];
  /** PIDs of the nats-servers; a server's `close()` resolves once its process has exited. */
  readonly #natsPids = new Map<Closeable, number>();

  constructor(io: CliIo, logging: LogArgs, backend: DemoNatsBackend) {
    this.#io = io;
    this.#logging = logging;
    this.#backend = backend;
  }

  /** Starts a nats-server per site, side by side. */
  async startSites(names: readonly string[]): Promise<DemoSite[]> {
    const started = await Promise.allSettled(
      names.map((name) =>
        startNatsServer({
          name,
          backend: this.#backend,
          log:
            this.#logging.logLevel === 'debug' ? (line) => this.#io.stderr(`${line}\n`) : undefined,
        }),
      ),
    );
    const sites: DemoSite[] = [];
    for (const [i, result] of started.entries()) {
      if (result.status === 'rejected') continue;
      const name = names[i] as string;
      this.#own(`nats-server ${name}`, result.value);
      if (result.value.pid !== undefined) this.#natsPids.set(result.value, result.value.pid);
      sites.push({ name, url: result.value.url, nats: result.value });
    }
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    return sites;
  }

  /** Starts the broker that owns the registry of `site`. */
  async startBroker(site: DemoSite): Promise<Broker> {
    const broker = await Broker.start({
      nats: site.url,
      site: site.name,
      logger: this.#logger(`broker ${site.name}`),
    });
    return this.#own(`broker ${site.name}`, broker);
  }

  /** Starts a bridge between two sites and waits until it has linked them. */
  async link(local: DemoSite, remote: DemoSite): Promise<Bridge> {
    const name = `bridge ${local.name}–${remote.name}`;
    const bridge = await Bridge.start({
      local: { nats: local.url },
      remote: { nats: remote.url },
      logger: this.#logger(name),
    });
    this.#own(name, bridge);
    if (!(await bridge.ready())) throw new DemoFailure(`${name} did not link the sites`);
    return bridge;
  }

  /** Serves `service` at `site` as `instanceId`; resolves once a broker confirmed it. */
  async serve(site: DemoSite, service: ServiceDefinition, instanceId: string) {
    const server = await serve(service, {
      nats: site.url,
      instanceId,
      logger: this.#logger(instanceId),
    });
    this.#own(instanceId, server);
    if (!(await server.whenRegistered())) {
      throw new DemoFailure(`${instanceId} was not registered at site ${site.name}`);
    }
    return server;
  }

  /** Connects a client at `site`. */
  async connect(site: DemoSite): Promise<Client> {
    const client = await Client.connect({
      nats: site.url,
      logger: this.#logger(`client ${site.name}`),
    });
    return this.#own(`client ${site.name}`, client);
  }

  /** Stops one part ahead of the others (a server going away). */
  async stop(server: ServerProxy): Promise<void> {
    const i = this.#running.findIndex((r) => r.resource === server);
    if (i >= 0) this.#running.splice(i, 1);
    await server.close();
  }

  /** Whether anything is left to close. */
  get running(): boolean {
    return this.#running.length > 0;
  }

  /** Closes everything, newest first; a part that fails to close is reported and skipped. */
  async close(): Promise<ClosedMesh> {
    const closed: string[] = [];
    const natsPids: ClosedMesh['natsPids'] = [];
    for (const { what, resource } of this.#running.splice(0).reverse()) {
      let exited = false;
      try {
        await resource.close();
        closed.push(what);
        exited = true;
      } catch (err) {
        this.#io.stderr(`closing ${what} failed: ${String(err)}\n`);
      }
      const pid = this.#natsPids.get(resource);
      if (pid !== undefined) natsPids.unshift({ pid, exited });
    }
    return { closed, natsPids };
  }

  #own<T extends Closeable>(what: string, resource: T): T {
    this.#running.push({ what, resource });
    return resource;
  }

  #logger(component: string): Logger {
    return cliLogger(component, this.#logging, this.#io);
  }
}
