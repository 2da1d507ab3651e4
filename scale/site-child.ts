/**
 * The harness's handle on a site process (`site-process.ts`): starts it,
 * links its bridges, mirrors its broker's registry from the changes it
 * reports (so that the routing check reads it as it reads an in-process
 * broker's) and closes it.
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { InstanceView } from '../src/internal.js';
import type {
  BrokerTimings,
  PlacedBridge,
  SiteCommand,
  SiteConnection,
  SiteReport,
} from './site-process.js';

/**
 * How long a site process may take to start or to link its bridges (a
 * hundred sites linking at once on two cores take minutes).
 */
const STEP_TIMEOUT_MS = 600_000;

/** A site's registry as the harness reads it (a broker's, or a mirror of one). */
export interface SiteRegistry {
  readonly size: number;
  /** Changes so far: equal counts, equal registries. */
  readonly generation: number;
  instances(): Iterable<InstanceView>;
}

/** A broker's registry rebuilt from the changes its site process reports. */
class MirroredRegistry implements SiteRegistry {
  readonly #views = new Map<string, InstanceView>();
  #generation = 0;

  get size(): number {
    return this.#views.size;
  }

  get generation(): number {
    return this.#generation;
  }

  instances(): Iterable<InstanceView> {
    return this.#views.values();
  }

  apply(upserted: readonly InstanceView[], removed: readonly string[]): void {
    for (const id of removed) this.#views.delete(id);
    for (const view of upserted) this.#views.set(view.id, view);
    if (upserted.length + removed.length > 0) this.#generation++;
  }
}

/**
 * The site process's script: compiled next to this module, or, when this
 * one runs from source (the tests), in the harness's build (`.scale-build`,
 * which the scale tests make first).
 */
function siteProcessEntry(): URL {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.js')) return new URL('./site-process.js', here);
  return new URL('../.scale-build/scale/site-process.js', here);
}

export class ChildSite {
  readonly #child: ChildProcess;
  readonly #registry = new MirroredRegistry();
  #routes: Record<string, { local: number; remote: number }> = {};
  #sent: Record<string, { msgs: number; bytes: number }> = {};
  /** Waiting for a report of this kind. */
  readonly #waiting = new Map<string, (report: SiteReport) => void>();
  #exited: Promise<void>;
  #error: string | undefined;

  private constructor(child: ChildProcess) {
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      // Not started at all (no exit follows), or a message that could not be sent.
      child.on('error', (err) => {
        this.#error = err.message;
        if (child.pid === undefined) resolve();
      });
    });
    child.on('message', (report: SiteReport) => this.#receive(report));
  }

  /** Forks the site process and starts its broker. */
  static async start(options: {
    site: string;
    prefix: string;
    url: string;
    broker: BrokerTimings;
    connection: SiteConnection;
  }): Promise<ChildSite> {
    const child = fork(siteProcessEntry(), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const site = new ChildSite(child);
    try {
      await site.#ask({ op: 'start', ...options }, 'started');
    } catch (err) {
      await site.close();
      throw err;
    }
    return site;
  }

  /** Process id. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The broker's registry, as last reported (at most every 100 ms while it changes). */
  get registry(): SiteRegistry {
    return this.#registry;
  }

  /** Route counts of a bridge started here. */
  routes(link: string): { local: number; remote: number } {
    return this.#routes[link] ?? { local: 0, remote: 0 };
  }

  /** Messages and bytes this process's connections sent, by site. */
  get sent(): Readonly<Record<string, { msgs: number; bytes: number }>> {
    return this.#sent;
  }

  /** Starts these bridges here; resolves with the ids of those that did not link. */
  async link(bridges: PlacedBridge[]): Promise<string[]> {
    const report = await this.#ask({ op: 'link', bridges }, 'linked');
    return report.op === 'linked' ? report.failed : [];
  }

  /** Closes the site's components and waits for the process to end (killing it if it does not). */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    if (this.#child.connected) this.#child.send({ op: 'close' } satisfies SiteCommand);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }

  #ask(command: SiteCommand, answer: SiteReport['op']): Promise<SiteReport> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(answer);
        reject(new Error(`site process: no '${answer}' within ${STEP_TIMEOUT_MS} ms`));
      }, STEP_TIMEOUT_MS);
      this.#waiting.set(answer, (report) => {
        clearTimeout(timer);
        if (report.op === 'error') reject(new Error(`site process: ${report.message}`));
        else resolve(report);
      });
      void this.#exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`site process ended${this.#error ? `: ${this.#error}` : ''}`));
      });
      this.#child.send(command);
    });
  }

  #receive(report: SiteReport): void {
    if (report.op === 'state') {
      this.#registry.apply(report.upserted, report.removed);
      this.#routes = report.routes;
      this.#sent = report.sent;
      return;
    }
    if (report.op === 'error') {
      this.#error = report.message;
      for (const [op, waiter] of this.#waiting) {
        this.#waiting.delete(op);
        waiter(report);
      }
      return;
    }
    const waiter = this.#waiting.get(report.op);
    this.#waiting.delete(report.op);
    waiter?.(report);
  }
}
