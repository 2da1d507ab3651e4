/**
 * A fake of the few parts of a nats.js connection that the request channel
 * and the invoker use: what is published is recorded, and replies are
 * delivered by hand to the one subscription (the channel's inbox).
 */
import type { Msg, MsgHdrs } from 'nats';

export class FakeNats {
  readonly published: Array<{
    subject: string;
    data: Uint8Array | undefined;
    reply: string | undefined;
    headers: MsgHdrs | undefined;
  }> = [];
  closed = false;
  unsubscribed = false;
  /** Set to make the next publish throw it (as nats.js does, synchronously). */
  publishError: unknown;
  #callback: ((err: Error | null, msg: Msg) => void) | undefined;
  subscribedTo = '';

  subscribe(subject: string, opts: { callback: (err: Error | null, msg: Msg) => void }) {
    this.subscribedTo = subject;
    this.#callback = opts.callback;
    return { unsubscribe: () => (this.unsubscribed = true) };
  }

  publish(
    subject: string,
    data: Uint8Array | undefined,
    opts: { reply?: string; headers?: MsgHdrs } = {},
  ): void {
    if (this.publishError !== undefined) throw this.publishError;
    this.published.push({ subject, data, reply: opts.reply, headers: opts.headers });
  }

  isClosed(): boolean {
    return this.closed;
  }

  /** Delivers a reply to the reply subject of request `index`, with `headers` as nats.js gives them. */
  reply(index: number, data: Uint8Array = new Uint8Array([1]), headers?: () => unknown): Msg {
    const subject = this.published[index]!.reply!;
    const msg = { subject, data } as unknown as Msg;
    if (headers) Object.defineProperty(msg, 'headers', { get: headers });
    this.#callback!(null, msg);
    return msg;
  }

  /** Delivers a message to any subject under the channel's inbox. */
  deliver(subject: string, err: Error | null = null, data = new Uint8Array()): void {
    this.#callback!(err, { subject, data } as unknown as Msg);
  }
}
