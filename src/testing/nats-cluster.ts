/**
 * `startNatsCluster`: one site on a NATS cluster (several nats-server nodes
 * joined by cluster routes), each node stoppable and restartable alone, for
 * tests of components riding the loss of a node. Binary backend only.
 */

import {
  type BinaryNatsServer,
  type ClusterSpec,
  DEFAULT_START_TIMEOUT_MS,
  startBinaryNode,
} from './nats-launcher.js';
import type { NatsServerHandle, NatsServerOptions } from './nats-site.js';

/** Options of {@link startNatsCluster}: those of one server, less what differs per node. */
export interface NatsClusterOptions
  extends Omit<NatsServerOptions, 'port' | 'backend' | 'image' | 'monitor'> {
  /**
   * The cluster's name (`cluster_name`); node `i` (from 1) is named `<name>-<i>`.
   * @default "nats"
   */
  name?: string;
  /** How many nodes. @default 3 */
  nodes?: number;
}

/** One node of a cluster: a server handle that also tells its route port and monitoring endpoint. */
export interface NatsClusterNode extends NatsServerHandle {
  /** Port of its cluster routes; unchanged by `restart()`. */
  readonly routePort: number;
  /** Its HTTP monitoring endpoint (`/routez`, `/connz`...); unchanged by `restart()`. */
  readonly monitorUrl: string;
}

/** A running NATS cluster started by {@link startNatsCluster}. */
export interface NatsClusterHandle {
  /** The `name` option, also the `cluster_name`. */
  readonly name: string;
  /** The nodes, in start order; each may be `stop()`ped and `restart()`ed alone. */
  readonly nodes: readonly NatsClusterNode[];
  /** Client URL of every node: what a component that rides node losses is given. */
  readonly urls: readonly string[];
  /** The client URLs as one comma-separated list (`--nats`, `SWITCHBOARD_NATS`). */
  readonly url: string;
  /**
   * Resolves once every running node has a route to every other running node
   * (after a node's `restart()`, say); rejects after `timeoutMs`.
   * @param timeoutMs @default 10000
   */
  formed(timeoutMs?: number): Promise<void>;
  /** Stops every node (as their `close()`); safe to call twice. */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

interface Routez {
  routes?: { remote_id?: string }[];
}

/** How many other nodes `node` has a route to, or -1 when it does not answer. */
async function routesOf(node: BinaryNatsServer): Promise<number> {
  try {
    const res = await fetch(`${node.monitorUrl}/routez`, { signal: AbortSignal.timeout(1_000) });
    const routez = (await res.json()) as Routez;
    return new Set((routez.routes ?? []).map((route) => route.remote_id)).size;
  } catch {
    return -1;
  }
}

class Cluster implements NatsClusterHandle {
  readonly urls: readonly string[];
  readonly url: string;
  private closing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly members: BinaryNatsServer[],
  ) {
    this.urls = members.map((node) => node.url);
    this.url = this.urls.join(',');
  }

  get nodes(): readonly NatsClusterNode[] {
    return this.members as unknown as NatsClusterNode[];
  }

  async formed(timeoutMs = DEFAULT_START_TIMEOUT_MS): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const counts = await Promise.all(this.members.map(routesOf));
      const running = counts.filter((count) => count >= 0).length;
      if (counts.every((count) => count < 0 || count >= running - 1)) return;
      if (Date.now() > until) {
        const seen = counts.map((count, i) => `${this.members[i]?.name}: ${count}`).join(', ');
        throw new Error(
          `NATS cluster "${this.name}" did not form within ${timeoutMs} ms (routes per node, -1 = down: ${seen})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): Promise<void> {
    this.closing ??= Promise.allSettled(this.members.map((node) => node.close())).then(
      (results) => {
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      },
    );
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Where nodes reach each other's routes: all nodes run on one host (or in one namespace). */
function routeHost(options: NatsClusterOptions): string {
  const host = options.host ?? '127.0.0.1';
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

/**
 * Starts a NATS cluster of `nodes` nodes (three by default) with the local
 * `nats-server` binary, each with its monitoring endpoint, and resolves once
 * every node has a route to every other. Node 1 starts first; each next node
 * solicits routes to those before it; a restarted node solicits all the
 * others, on the same client and route ports as before.
 *
 * @example
 * ```ts
 * await using site = await startNatsCluster({ name: 'paris' });
 * const broker = await Broker.start({ nats: [...site.urls], site: 'paris' });
 * await site.nodes[0]!.stop(); // the broker reconnects to another node
 * ```
 * @throws {NatsServerNotFoundError} when `nats-server` is missing.
 */
export async function startNatsCluster(
  options: NatsClusterOptions = {},
): Promise<NatsClusterHandle> {
  const count = options.nodes ?? 3;
  if (!Number.isInteger(count) || count < 2 || count > 16) {
    throw new RangeError(`nodes must be an integer in 2..16, got ${count}`);
  }
  const name = options.name || 'nats';
  const { nodes: _count, ...serverOptions } = options;
  const members: BinaryNatsServer[] = [];
  const peerHost = routeHost(options);
  try {
    for (let i = 1; i <= count; i++) {
      const self = i - 1;
      const cluster: ClusterSpec = {
        name,
        host: options.host ?? '127.0.0.1',
        port: -1,
        routes: () =>
          members
            .filter((node, index) => index !== self && node.routePort !== undefined)
            .map((node) => `nats://${peerHost}:${node.routePort}`),
      };
      members.push(
        await startBinaryNode({ ...serverOptions, name: `${name}-${i}`, monitor: true }, cluster),
      );
    }
    const handle = new Cluster(name, members);
    await handle.formed(options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    return handle;
  } catch (error) {
    await Promise.allSettled(members.map((node) => node.close()));
    throw error;
  }
}
