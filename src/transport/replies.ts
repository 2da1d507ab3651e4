import { type Msg, type NatsConnection, ErrorCode as NatsErrorCode, type Subscription } from 'nats';
import type { CallReply } from '../core/index.js';
import {
  type Codec,
  ErrorCode,
  errorReplyHeaders,
  isProbe,
  PROTOCOL_VERSION,
  type ProbeReply,
  parse,
  SwitchboardError,
} from '../protocol/index.js';
import type { Logger } from '../util/index.js';
import { answerCall, answerCallError, type CallRequest, readCallRequest } from './call-request.js';
import { headersOf } from './received-headers.js';
import { publishError } from './request-channel.js';

/**
 * Passes a {@link CallReply} on to the caller of `msg` (a relay or a
 * forwarding broker answering for someone else): a result or an error reply
 * as received, untouched, else the error encoded here. A result NATS refuses
 * to carry (larger than this site's max_payload) becomes `PAYLOAD_TOO_LARGE`
 * (completion `yes`: the handler ran). Failures to send are logged, never thrown.
 */
export function answerWith(
  nc: NatsConnection,
  call: Pick<CallRequest, 'msg' | 'replyTo' | 'done'>,
  codec: Codec,
  reply: CallReply,
  logger: Logger,
): void {
  try {
    if (reply.ok) answerCall(nc, call, reply.body, undefined);
    else if (reply.body) answerCall(nc, call, reply.body, errorReplyHeaders());
    else answerCallError(nc, call, codec, reply.error);
    return;
  } catch (err) {
    logger.warn(`cannot pass a reply on: ${(err as Error).message}`);
    if (!reply.ok) return;
    const cause = publishError(err, 'the result');
    answerWith(nc, call, codec, failed(cause.code, cause.message), logger);
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

/** How {@link listen} subscribes. */
export interface ListenOptions {
  /** Queue group: one member of the group gets each message. */
  queue?: string;
  /**
   * Whether the subject takes requests, so that a rejected one is answered
   * with an error. Subjects that only take published notices (events,
   * heartbeats) answer nothing: one hostile message with a reply subject
   * must not draw an answer from every listener.
   * @default true
   */
  answers?: boolean;
}

/**
 * Subscribes `handler` to `subject`. Whatever the handler throws or rejects
 * with becomes an error reply (when the subject takes requests and the
 * message has a reply subject) and a log line, never a crash: bad input must
 * not take a process down.
 */
export function listen(
  ctx: ListenContext,
  subject: string,
  handler: (msg: Msg) => void | Promise<void>,
  { queue, answers = true }: ListenOptions = {},
): Subscription {
  const fail = (thrown: unknown, msg: Msg): void => {
    const err = rejection(ctx, thrown, msg);
    if (!answers || !msg.reply) return;
    const data = err.toData();
    data.site ??= ctx.site();
    try {
      msg.respond(ctx.codec.encode(data), { headers: errorReplyHeaders().forNats() });
    } catch (replyErr) {
      ctx.logger.error('cannot send an error reply', { error: String(replyErr) });
    }
  };
  return guardedSubscription(ctx, subject, queue, (msg) => {
    try {
      const done = handler(msg);
      if (done) done.catch((thrown: unknown) => fail(thrown, msg));
    } catch (thrown) {
      fail(thrown, msg);
    }
  });
}

/**
 * Subscribes `handler` to the calls arriving on `subject` (an instance's or a
 * route's): each is read and checked once ({@link readCallRequest}); a call
 * that cannot be read is answered `BAD_REQUEST` on its reply subject (never
 * on a subject it names), and whatever the handler throws or rejects with
 * becomes the call's error answer and a log line, never a crash. Probes are
 * answered here, with those of the listed calls that `held` says are still held.
 */
export function takeCalls(
  ctx: ListenContext,
  subject: string,
  handler: (call: CallRequest, receivedAt: number) => void | Promise<void>,
  held: (callIds: readonly string[]) => string[],
): Subscription {
  return guardedSubscription(ctx, subject, undefined, (msg) => {
    const receivedAt = Date.now();
    let call: CallRequest;
    try {
      if (isProbe(headersOf(msg))) return answerProbe(ctx, msg, held);
      call = readCallRequest(msg);
    } catch (thrown) {
      const err = rejection(ctx, thrown, msg);
      if (msg.reply) answerError(ctx, { msg, replyTo: undefined }, err);
      return;
    }
    try {
      const done = handler(call, receivedAt);
      if (done) done.catch((thrown: unknown) => failCall(ctx, call, thrown));
    } catch (thrown) {
      failCall(ctx, call, thrown);
    }
  });
}

/** What a call's handler threw or rejected with becomes its error answer (none for a cancel notice). */
function failCall(ctx: ListenContext, call: CallRequest, thrown: unknown): void {
  if (!call.cancel) answerError(ctx, call, rejection(ctx, thrown, call.msg));
}

/**
 * Answers a probe with the listed calls held. After the calls that arrived
 * before it have been handed on (some are checked asynchronously first).
 */
function answerProbe(
  ctx: ListenContext,
  msg: Msg,
  held: (callIds: readonly string[]) => string[],
): void {
  if (!msg.reply) return;
  const { calls } = parse.probeRequest(ctx.codec.decode(msg.data));
  setImmediate(() => {
    const reply: ProbeReply = { v: PROTOCOL_VERSION, held: held(calls) };
    try {
      respondValue(msg, ctx.codec, reply);
    } catch (err) {
      ctx.logger.warn(`cannot answer a probe: ${String(err)}`);
    }
  });
}

/** Logs why a message was rejected (held to a few lines per kind), as a SwitchboardError. */
function rejection(ctx: ListenContext, thrown: unknown, msg: Msg): SwitchboardError {
  const err =
    thrown instanceof SwitchboardError
      ? thrown
      : new SwitchboardError(ErrorCode.INTERNAL, `internal error: ${String(thrown)}`, {
          completed: 'maybe',
          cause: thrown,
        });
  const level = err.code === ErrorCode.INTERNAL ? 'error' : 'warn';
  ctx.logger[level](`rejected a message: ${err.message}`, { subject: msg.subject, code: err.code });
  return err;
}

function answerError(
  ctx: ListenContext,
  call: Pick<CallRequest, 'msg' | 'replyTo' | 'done'>,
  err: SwitchboardError,
): void {
  if (!call.msg.reply) return;
  const data =
    err.site === undefined ? SwitchboardError.fromData({ ...err.toData(), site: ctx.site() }) : err;
  try {
    answerCallError(ctx.nc, call, ctx.codec, data);
  } catch (replyErr) {
    ctx.logger.error('cannot send an error reply', { error: String(replyErr) });
  }
}

/**
 * A subscription whose callback can never throw into nats.js's reader (which
 * would stop the connection reading anything more): the handler is run under
 * a catch-all that logs.
 */
function guardedSubscription(
  ctx: ListenContext,
  subject: string,
  queue: string | undefined,
  handler: (msg: Msg) => void,
): Subscription {
  return ctx.nc.subscribe(subject, {
    queue,
    callback: (natsErr, msg) => {
      if (natsErr) {
        // A refusal by NATS is said once, by the component's permission watch.
        if (natsErr.code !== NatsErrorCode.PermissionsViolation) {
          ctx.logger.error(`subscription ${subject} failed: ${natsErr.message}`);
        }
        return;
      }
      try {
        handler(msg);
      } catch (thrown) {
        ctx.logger.error(`a message on ${subject} could not be handled: ${String(thrown)}`);
      }
    },
  });
}
