import type { CallReply, Invoker, OutgoingCall } from '../core/index.js';
import {
  type CallMeta,
  type Codec,
  callHeaders,
  cancelHeaders,
  ErrorCode,
  Header,
  lastToken,
  SwitchboardError,
} from '../protocol/index.js';
import { readReply } from './call-reply.js';
import type { SiteConnection } from './connection.js';
import { isLinkFailure, type RequestChannel } from './request-channel.js';

/**
 * Sends calls over NATS: the one place that writes call headers. Replies come
 * back through the component's {@link RequestChannel}; failures to get one
 * are stamped with the caller's site, the service and the path.
 */
export class NatsInvoker implements Invoker {
  readonly #conn: SiteConnection;
  readonly #channel: RequestChannel;
  readonly #codec: Codec;
  readonly #site: () => string | undefined;

  /** @param site the caller's site, for the errors raised here */
  constructor(
    conn: SiteConnection,
    channel: RequestChannel,
    codec: Codec,
    site: () => string | undefined,
  ) {
    this.#conn = conn;
    this.#channel = channel;
    this.#codec = codec;
    this.#site = site;
  }

  invoke(subject: string, call: OutgoingCall): Promise<CallReply> {
    const { meta, signal } = call;
    const headers =
      call.replyTo === undefined
        ? callHeaders(meta)
        : callHeaders(meta, [Header.replyTo, call.replyTo]);
    return this.#channel
      .request(subject, {
        data: call.body,
        headers,
        timeoutMs: call.timeoutMs,
        signal,
        target: `${meta.service}.${meta.method}`,
        onAbort: signal ? () => this.cancel(subject, meta) : undefined,
      })
      .then(
        (msg) => readReply(msg, this.#codec),
        (err: unknown) => this.#failure(err, subject, meta),
      );
  }

  #failure(thrown: unknown, subject: string, meta: CallMeta): CallReply {
    const e =
      thrown instanceof SwitchboardError
        ? thrown
        : new SwitchboardError(ErrorCode.INTERNAL, String(thrown), { completed: 'maybe' });
    const message =
      e.code === ErrorCode.UNAVAILABLE && e.completed === 'no'
        ? `${meta.service}.${meta.method}: ${this.#nobody(subject, meta)} (${e.message})`
        : e.message;
    const error = new SwitchboardError(e.code, message, {
      completed: e.completed,
      site: this.#site(),
      service: meta.service,
      path: meta.path,
      cause: thrown,
    });
    return isLinkFailure(thrown) ? { ok: false, error, linkDown: true } : { ok: false, error };
  }

  abandon(subject: string, reason: string): void {
    this.#channel.failTo(subject, reason);
  }

  /** Who did not answer, in words (a caller never sees subjects). */
  #nobody(subject: string, meta: CallMeta): string {
    const { subjects } = this.#conn;
    if (subject === subjects.call(meta.service)) return 'no broker of this site answered';
    return `instance ${lastToken(subject)} did not answer`;
  }

  /** Tells the instance that the caller gave up, so its handler's signal aborts. */
  cancel(subject: string, meta: CallMeta): void {
    if (this.#conn.nc.isClosed()) return;
    this.#conn.nc.publish(subject, undefined, { headers: cancelHeaders(meta).forNats() });
  }
}
