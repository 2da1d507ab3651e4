/**
 * Lifecycle shared by the NATS fixture backends: serialised stop/restart/close
 * around one replaceable server instance (a process or a container).
 */

import type { NatsBackend, NatsServerHandle } from './nats-site.js';

/**
 * A {@link NatsServerHandle} whose server instance `P` (process, container...)
 * can be killed and replaced on the same port. Owns the operation queue and the
 * stop/restart/close/`asyncDispose` flow; backends supply the hooks that act on
 * one instance. @internal
 */
export abstract class ManagedNatsServer<P> implements NatsServerHandle {
  abstract readonly backend: NatsBackend;
  abstract readonly pid: number | undefined;
  readonly url: string;
  readonly port: number;
  private current: P | undefined;
  private closing: Promise<void> | undefined;
  /** Serialises stop/restart/close. */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * @param name the `name` option.
   * @param label how error messages name the server, e.g. `nats-server "paris"`.
   * @param first the instance already running.
   * @param host host part of {@link url}.
   * @param port host port of {@link url}; `restart()` reuses it.
   */
  protected constructor(
    readonly name: string,
    private readonly label: string,
    first: P,
    host: string,
    port: number,
  ) {
    this.current = first;
    this.port = port;
    this.url = `nats://${host}:${port}`;
  }

  /** Stops `instance` abruptly (SIGKILL); resolves when it is gone. */
  protected abstract kill(instance: P): Promise<void>;

  /** Stops `instance` gracefully (SIGTERM, then SIGKILL after a grace period); resolves when it is gone. */
  protected abstract terminate(instance: P): Promise<void>;

  /** Starts a fresh instance on {@link port}; resolves once it accepts connections. */
  protected abstract launch(): Promise<P>;

  /** Runs once at the end of `close()`, even when stopping the instance failed. */
  protected async afterClose(): Promise<void> {}

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const result = this.queue.then(op);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Detaches the current instance, so it is stopped at most once. */
  private take(): P | undefined {
    const instance = this.current;
    this.current = undefined;
    return instance;
  }

  stop(): Promise<void> {
    return this.enqueue(async () => {
      const instance = this.take();
      if (instance !== undefined) await this.kill(instance);
    });
  }

  restart(): Promise<void> {
    return this.enqueue(async () => {
      if (this.closing) throw new Error(`${this.label} is closed; cannot restart it`);
      const instance = this.take();
      if (instance !== undefined) await this.kill(instance);
      this.current = await this.launch();
    });
  }

  close(): Promise<void> {
    this.closing ??= this.enqueue(async () => {
      const instance = this.take();
      try {
        if (instance !== undefined) await this.terminate(instance);
      } finally {
        await this.afterClose();
      }
    });
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
