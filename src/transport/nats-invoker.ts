import type { Msg } from 'nats';
import type { CallReply, Invoker, OutgoingCall } from '../core/index.js';
import {
  type CallMeta,
  type Codec,
  callHeaders,
  cancelHeaders,
  ErrorCode,
  Header,
  lastToken,
  MAX_PROBE_CALLS,
  PROTOCOL_VERSION,
  parse,
  probeHeaders,
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
  /** Reads a reply: one function for every call, not a closure each. */
  readonly #read = (msg: Msg): CallReply => readReply(msg, this.#codec);

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
        : callHeaders(meta, [Header.replyTo, call.replyTo], DONE_IN_BATCHES);
    return this.#channel
      .request(subject, {
        data: call.body,
        headers,
        timeoutMs: call.timeoutMs,
        signal,
        target: `${meta.service}.${meta.method}`,
        onAbort: signal ? () => this.cancel(subject, meta) : undefined,
        callId: meta.callId,
      })
      .then(this.#read, (err: unknown) => this.#failure(err, subject, meta));
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

  async probe(subject: string, reason: string): Promise<void> {
    const calls = this.#channel.callsTo(subject);
    const tokens = [...calls.keys()];
    for (let at = 0; at < tokens.length; at += MAX_PROBE_CALLS) {
      const batch = tokens.slice(at, at + MAX_PROBE_CALLS);
      const held = await this.#held(
        subject,
        batch.map((token) => calls.get(token)!),
      );
      const lost = held ? batch.filter((t) => !held.has(calls.get(t)!)) : [];
      this.#conn.logger.debug(
        `probed ${batch.length} calls in flight to ${subject}: ${held ? `${lost.length} lost` : 'no answer'}`,
      );
      this.#channel.failCalls(lost, reason);
    }
  }

  /**
   * The calls among `callIds` that the listener on `subject` holds: none
   * when nobody listens there any more; undefined when it did not answer
   * (or answered something else than a probe reply).
   */
  async #held(subject: string, callIds: string[]): Promise<Set<string> | undefined> {
    if (this.#conn.nc.isClosed()) return undefined;
    let reply: CallReply;
    try {
      const msg = await this.#channel.request(subject, {
        data: this.#codec.encode({ v: PROTOCOL_VERSION, calls: callIds }),
        headers: probeHeaders(),
        timeoutMs: PROBE_TIMEOUT_MS,
        target: 'probe',
      });
      reply = readReply(msg, this.#codec);
    } catch (err) {
      const gone = err instanceof SwitchboardError && err.code === ErrorCode.UNAVAILABLE;
      return gone && err.completed === 'no' ? new Set() : undefined;
    }
    if (!reply.ok) return undefined;
    try {
      return new Set(parse.probeReply(this.#codec.decode(reply.body)).held);
    } catch {
      return undefined;
    }
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

/** A forwarded call's done notice may come in a batch (see `DoneNotices`). */
const DONE_IN_BATCHES: [string, string] = [Header.done, '1'];

/** Longest wait for the answer to a probe; without one, the calls probed run to their deadlines. */
const PROBE_TIMEOUT_MS = 1000;
