import type { Msg, MsgHdrs, NatsConnection, Subscription } from 'nats';
import type { CallReply } from '../core/index.js';
import {
  type Codec,
  ErrorCode,
  errorReplyHeaders,
  Header,
  HeaderBlock,
  SwitchboardError,
} from '../protocol/index.js';
import type { Logger } from '../util/index.js';
import { headersOf } from './received-headers.js';
import { publishError } from './request-channel.js';

const EMPTY = new Uint8Array(0);

/**
 * Sends the answer to a call: to the message's reply subject or, for a call a
 * broker forwarded, to the caller's subject in `sb-reply`, with an empty notice
 * to the broker that the call ended. Throws what NATS throws (too large, closed).
 */
export function answerCall(
  nc: NatsConnection,
  msg: Msg,
  body: Uint8Array,
  headers: HeaderBlock | MsgHdrs | undefined,
): void {
  const replyTo = headersOf(msg)?.get(Header.replyTo);
  const natsHeaders = headers instanceof HeaderBlock ? headers.forNats() : headers;
  if (replyTo) {
    nc.publish(replyTo, body, { headers: natsHeaders });
    msg.respond(EMPTY);
  } else {
    msg.respond(body, { headers: natsHeaders });
  }
}

/** Answers a call with an error (see {@link answerCall}). */
export function answerCallError(
  nc: NatsConnection,
  msg: Msg,
  codec: Codec,
  err: SwitchboardError,
): void {
  answerCall(nc, msg, codec.encode(err.toData()), errorReplyHeaders());
}

/**
 * Passes a {@link CallReply} on to the caller of `msg` (a relay or a
 * forwarding broker answering for someone else): a result or an error reply
 * as received, untouched, else the error encoded here. A result NATS refuses
 * to carry (larger than this site's max_payload) becomes `PAYLOAD_TOO_LARGE`
 * (completion `yes`: the handler ran). Failures to send are logged, never thrown.
 */
export function answerWith(
  nc: NatsConnection,
  msg: Msg,
  codec: Codec,
  reply: CallReply,
  logger: Logger,
): void {
  try {
    if (reply.ok) answerCall(nc, msg, reply.body, undefined);
    else if (reply.body) answerCall(nc, msg, reply.body, errorReplyHeaders());
    else answerCallError(nc, msg, codec, reply.error);
    return;
  } catch (err) {
    logger.warn(`cannot pass a reply on: ${(err as Error).message}`);
    if (!reply.ok) return;
    const cause = publishError(err, 'the result');
    answerWith(nc, msg, codec, failed(cause.code, cause.message), logger);
  }
}

function failed(code: ErrorCode, message: string): CallReply {
  return { ok: false, error: new SwitchboardError(code, message, { completed: 'yes' }) };
}

/** Replies with a result: a bare msgpack body, no headers. */
export function respondValue(msg: Msg, codec: Codec, value: unknown): void {
  msg.respond(codec.encode(value));
}

/** Replies with an error body marked by the status header. Does nothing without a reply subject. */
export function respondError(msg: Msg, codec: Codec, err: SwitchboardError): void {
  if (!msg.reply) return;
  msg.respond(codec.encode(err.toData()), { headers: errorReplyHeaders().forNats() });
}

/** Where a listener runs, for the error replies and log lines it produces. */
export interface ListenContext {
  nc: NatsConnection;
  codec: Codec;
  logger: Logger;
  /** Site named in error replies. */
  site: () => string | undefined;
}

/**
 * Subscribes `handler` to `subject`. Whatever the handler throws or rejects
 * with becomes an error reply (when the message has a reply subject) and a log
 * line, never a crash: bad input must not take a process down.
 */
export function listen(
  ctx: ListenContext,
  subject: string,
  handler: (msg: Msg) => void | Promise<void>,
  queue?: string,
): Subscription {
  const fail = (thrown: unknown, msg: Msg): void => {
    const err =
      thrown instanceof SwitchboardError
        ? thrown
        : new SwitchboardError(ErrorCode.INTERNAL, `internal error: ${String(thrown)}`, {
            completed: 'maybe',
            cause: thrown,
          });
    const level = err.code === ErrorCode.INTERNAL ? 'error' : 'warn';
    ctx.logger[level](`rejected message on ${msg.subject}: ${err.message}`, { code: err.code });
    if (!msg.reply) return;
    const data = err.toData();
    data.site ??= ctx.site();
    try {
      msg.respond(ctx.codec.encode(data), { headers: errorReplyHeaders().forNats() });
    } catch (replyErr) {
      ctx.logger.error('cannot send error reply', { error: String(replyErr) });
    }
  };
  return ctx.nc.subscribe(subject, {
    queue,
    callback: (natsErr, msg) => {
      if (natsErr) {
        ctx.logger.error(`subscription ${subject} failed: ${natsErr.message}`);
        return;
      }
      try {
        const done = handler(msg);
        if (done) done.catch((thrown: unknown) => fail(thrown, msg));
      } catch (thrown) {
        fail(thrown, msg);
      }
    },
  });
}
