/**
 * Base of every long-lived object: `close()` runs the subclass's shutdown once,
 * whoever calls it and however often, and `await using` works.
 */
export abstract class Closeable {
  #closing: Promise<void> | undefined;

  /** Releases everything this object holds. Safe to call twice; later calls share the first. */
  close(): Promise<void> {
    this.#closing ??= this.shutdown();
    return this.#closing;
  }

  /** Whether `close()` has been called. */
  get closing(): boolean {
    return this.#closing !== undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Does the work of `close()`; called once. */
  protected abstract shutdown(): Promise<void>;
}
