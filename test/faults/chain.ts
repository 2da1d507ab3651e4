/**
 * The topology of the fault scenarios: a chain of three sites a–b–c. Each
 * site's nats-server (for c, optionally a 3-node cluster) and broker run in
 * the site's namespace; bridges a–b and b–c in the bridges' namespace; the
 * journaling counter(s) at c and the load at a. Every process is ours, by
 * pid: `close()` kills them all, stops the NATS servers, removes the
 * network and checks that nothing of it is left.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Child } from '../../scripts/lib/child-ipc.mjs';
import {
  type NatsClusterHandle,
  type NatsServerHandle,
  startNatsCluster,
  startNatsServer,
} from '../../src/testing/index.js';
import { track } from '../integration/helpers.js';
import { type ComponentConfig, isAlive, spawnComponent } from '../support/components.js';
import { FaultNet, inNamespace } from './netns.js';
import { faultNeeds } from './prerequisites.js';

export const SITES = ['a', 'b', 'c'] as const;

/** Log level of every process: `SWITCHBOARD_FAULTS_LOG_LEVEL=debug` tells more. @default info */
const LOG_LEVEL = process.env.SWITCHBOARD_FAULTS_LOG_LEVEL === 'debug' ? 'debug' : 'info';
export type Site = (typeof SITES)[number];
/** A bridge, by the sites it links. */
export type Link = 'ab' | 'bc';

/** Options of {@link Chain.start}. */
export interface ChainOptions {
  /** Name of the scenario, for the logs kept under test-output/faults-logs. */
  scenario: string;
  /** Instances of the counter at c. @default 1 */
  counters?: number;
  /** Run site c on a 3-node NATS cluster. @default false */
  clusterC?: boolean;
  /** How long the counter works on each call. @default 80 */
  workMs?: number;
  /** Deadline of each call of the load. @default 2000 */
  deadlineMs?: number;
  /** Calls the load keeps going. @default 50 */
  concurrency?: number;
}

/** One site's NATS: a server, or the nodes of a cluster. */
interface SiteNats {
  /** Client ports of its node(s). */
  ports: () => number[];
  close(): Promise<void>;
}

function single(server: NatsServerHandle): SiteNats {
  return { ports: () => [server.port], close: () => server.close() };
}

function clustered(cluster: NatsClusterHandle): SiteNats {
  return { ports: () => cluster.nodes.map((node) => node.port), close: () => cluster.close() };
}

/** The running chain; see the module comment. */
export class Chain {
  readonly servers = new Map<Site, NatsServerHandle>();
  cluster: NatsClusterHandle | undefined;
  readonly brokers = new Map<Site, Child>();
  readonly bridges = new Map<Link, Child>();
  readonly counters: Child[] = [];
  load!: Child;
  readonly #nats = new Map<Site, SiteNats>();
  readonly #children = new Set<Child>();
  #counterNumbers = 0;
  #closing: Promise<void> | undefined;

  private constructor(
    readonly net: FaultNet,
    /** Where the journals and the load's log go. */
    readonly dir: string,
    readonly options: Required<ChainOptions>,
  ) {}

  /** Builds the chain and waits until a call from a reaches the counter at c; closed after the test. */
  static async start(options: ChainOptions): Promise<Chain> {
    const { iptables } = await faultNeeds();
    const net = await FaultNet.create(SITES, iptables);
    const dir = await mkdtemp(join(tmpdir(), 'switchboard-faults-'));
    const chain = new Chain(net, dir, {
      counters: 1,
      clusterC: false,
      workMs: 80,
      deadlineMs: 2000,
      concurrency: 50,
      ...options,
    });
    track(chain);
    await chain.#startNats();
    await Promise.all(SITES.map((site) => chain.startBroker(site)));
    await Promise.all([
      ...Array.from({ length: chain.options.counters }, () => chain.startCounter()),
      chain.startBridge('ab'),
      chain.startBridge('bc'),
    ]);
    chain.load = await chain.#spawn(
      {
        role: 'load',
        nats: chain.urls('a'),
        log: join(dir, 'load.bin'),
        deadlineMs: chain.options.deadlineMs,
        concurrency: chain.options.concurrency,
      },
      'load-a',
      'a',
    );
    await chain.load.request('probe', { timeoutMs: 15_000 }, 20_000);
    return chain;
  }

  async #startNats(): Promise<void> {
    for (const site of SITES) {
      const place = this.net.site(site);
      const common = {
        host: '0.0.0.0',
        urlHost: place.rootFacing,
        wrapper: inNamespace(place.ns),
      };
      if (site === 'c' && this.options.clusterC) {
        this.cluster = await startNatsCluster({ ...common, name: site });
        this.#nats.set(site, clustered(this.cluster));
      } else {
        const server = await startNatsServer({ ...common, name: site, backend: 'binary' });
        this.servers.set(site, server);
        this.#nats.set(site, single(server));
      }
    }
  }

  /** NATS URLs of `site` as seen from its own namespace, or from the bridges' one. */
  urls(site: Site, from: 'site' | 'bridges' = 'site'): string[] {
    const host = from === 'site' ? '127.0.0.1' : this.net.site(site).bridgeFacing;
    const nats = this.#nats.get(site);
    if (!nats) throw new Error(`site ${site} has no NATS yet`);
    return nats.ports().map((port) => `nats://${host}:${port}`);
  }

  async #spawn(config: ComponentConfig, label: string, site?: Site): Promise<Child> {
    const namespace = site === undefined ? this.net.bridgesNs : this.net.site(site).ns;
    // Info lines (reconnections, routes withdrawn...) end up in test-output/faults-logs.
    const child = await spawnComponent({ ...config, logLevel: LOG_LEVEL }, label, { namespace });
    this.#children.add(child);
    return child;
  }

  /** Starts (or starts again) the broker of `site`. */
  async startBroker(site: Site): Promise<Child> {
    const broker = await this.#spawn(
      { role: 'broker', site, nats: this.urls(site) },
      `broker-${site}`,
      site,
    );
    this.brokers.set(site, broker);
    return broker;
  }

  /** Starts (or starts again) a bridge; resolves once it links both sites. */
  async startBridge(link: Link): Promise<Child> {
    const [local, remote] = link.split('') as [Site, Site];
    const bridge = await this.#spawn(
      { role: 'bridge', local: this.urls(local, 'bridges'), remote: this.urls(remote, 'bridges') },
      `bridge-${link}`,
    );
    this.bridges.set(link, bridge);
    return bridge;
  }

  /** Starts one more instance of the counter at c. */
  async startCounter(): Promise<Child> {
    const n = ++this.#counterNumbers;
    const counter = await this.#spawn(
      {
        role: 'counter',
        nats: this.urls('c'),
        journal: join(this.dir, `journal-${n}.txt`),
        workMs: this.options.workMs,
      },
      `counter-c${n}`,
      'c',
    );
    this.counters.push(counter);
    return counter;
  }

  /** Stops counter `index` cleanly (it deregisters) and starts a new one in its place. */
  async replaceCounter(index: number): Promise<Child> {
    const old = this.counters[index];
    if (!old) throw new Error(`no counter #${index}`);
    await old.stop();
    const fresh = await this.startCounter();
    this.counters.splice(this.counters.indexOf(fresh), 1);
    this.counters[index] = fresh;
    return fresh;
  }

  /** Sends `signal` to a process of the chain; after SIGKILL, resolves once it is gone. */
  async signal(child: Child, signal: NodeJS.Signals): Promise<void> {
    child.kill(signal);
    if (signal === 'SIGKILL') await child.exited;
  }

  /** How many times each token of the load ran, over every counter's journal. */
  async journal(): Promise<Map<number, number>> {
    const ran = new Map<number, number>();
    for (let n = 1; n <= this.#counterNumbers; n++) {
      const text = await readFile(join(this.dir, `journal-${n}.txt`), 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        if (!/^\d+$/.test(line)) continue;
        const token = Number(line);
        ran.set(token, (ran.get(token) ?? 0) + 1);
      }
    }
    return ran;
  }

  /** Kills every process, stops the NATS servers, removes the network; fails if anything is left. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const children = [...this.#children];
      for (const child of children) if (isAlive(child)) child.kill('SIGKILL');
      await Promise.all(children.map((child) => child.exited));
      this.#keepLogs(children);
      await Promise.allSettled([...this.#nats.values()].map((nats) => nats.close()));
      await rm(this.dir, { recursive: true, force: true });
      await this.net.close();
      const left = await this.net.leftovers();
      if (left.length > 0) throw new Error(`the fault network left ${left.join(', ')} behind`);
    })();
    return this.#closing;
  }

  /** Every process's output, for a look after a failed run (test-output is not committed). */
  #keepLogs(children: Child[]): void {
    const dir = join('test-output', 'faults-logs', this.options.scenario);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [i, child] of children.entries()) {
      writeFileSync(join(dir, `${i}-${child.label}.log`), child.output());
    }
  }
}
