/**
 * Sites over the in-memory NATS (`memory-nats.ts`): one bus per site with a
 * real `Broker`, and real servers, clients and bridges on connections of its
 * bus, so that a federation runs in-process in milliseconds.
 */
import {
  Bridge,
  type BridgeOptions,
  Broker,
  Client,
  type ServiceDefinition,
  serve,
} from '../../src/internal.js';
import { MemoryBus, type MemoryConnection } from './memory-nats.js';
import { RecordingLogger } from './memory-wire.js';
import { type SleepCalls, whereService as sharedWhere } from './where-service.js';

/** Something to close once a test ends. */
interface Closable {
  close(): Promise<unknown>;
}

/** One site: its bus, its broker, and what the test opened on it. */
export interface MemorySite {
  name: string;
  bus: MemoryBus;
  broker: Broker;
}

/** Opens sites, servers, clients and bridges, and closes them all in {@link MemoryMesh.close}. */
export class MemoryMesh {
  readonly #opened: Closable[] = [];

  /** A site with its broker, on a bus of its own. */
  async site(name: string): Promise<MemorySite> {
    const bus = new MemoryBus();
    return { name, bus, broker: await this.broker(bus, name) };
  }

  /** A broker of site `name` on `bus`. */
  async broker(bus: MemoryBus, name: string): Promise<Broker> {
    const broker = await Broker.start({
      site: name,
      id: `broker-${name}`,
      warmupMs: 0,
      connection: bus.connect({ name: `broker-${name}` }),
    });
    this.#opened.push(broker);
    return broker;
  }

  /** A server of `service` at `site`. */
  async serve(site: MemorySite, service: ServiceDefinition, name = `server-${site.name}`) {
    const nc = site.bus.connect({ name });
    const server = await serve(service, { connection: nc });
    this.#opened.push(server);
    return { server, nc };
  }

  /** A client at `site`. */
  async client(site: MemorySite): Promise<Client> {
    const client = await Client.connect({ connection: site.bus.connect({ name: 'client' }) });
    this.#opened.push(client);
    return client;
  }

  /**
   * A bridge from `local` to `remote`, with the connections of its halves
   * (to take them away and back) and a logger that records what it says.
   */
  async bridge(local: MemorySite, remote: MemorySite, options: Partial<BridgeOptions> = {}) {
    const localNc = local.bus.connect({ name: `bridge-${local.name}` });
    const remoteNc = remote.bus.connect({ name: `bridge-${remote.name}` });
    const logger = new RecordingLogger();
    const bridge = await Bridge.start({
      local: { connection: localNc },
      remote: { connection: remoteNc },
      logger,
      ...options,
    });
    this.#opened.push(bridge);
    return { bridge, localNc, remoteNc, logger };
  }

  /** Closes everything opened, last first. */
  async close(): Promise<void> {
    for (const c of this.#opened.splice(0).reverse()) await c.close();
  }
}

/** Polls `check` every 5 ms of real time until it holds; fails naming `what` after `ms`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 2000,
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The routes (instances of other sites) to `service` in the registry of `site`. */
export function routesAt(site: MemorySite, service: string) {
  return site.broker.registry.lookup(service).filter((i) => i.site !== site.name);
}

/** The routes to `service` at `site`, once there are `count` of them. */
export async function routed(site: MemorySite, service: string, count = 1) {
  await until(
    () => routesAt(site, service).length === count,
    `${count} routes to ${service} at site ${site.name}`,
  );
  return routesAt(site, service);
}

export type { MemoryConnection };

/** The `where` service of site `site` (see `where-service.ts`), with the ids of its `sleep` calls. */
export function whereService(site: string) {
  const calls: SleepCalls = { started: [], aborted: [] };
  return { ...calls, service: sharedWhere(site, calls) };
}
