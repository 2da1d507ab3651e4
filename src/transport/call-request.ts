import type { Msg, MsgHdrs, NatsConnection } from 'nats';
import {
  type CallMeta,
  type Codec,
  errorReplyHeaders,
  Header,
  type HeaderBlock,
  isCancelNotice,
  readCallMeta,
  readReplyTo,
  type SwitchboardError,
} from '../protocol/index.js';
import { doneNotices } from './done-notices.js';
import { publishFrame } from './frames.js';
import { headersOf } from './received-headers.js';

/** A call as it arrived, read and checked once at the door. */
export interface CallRequest {
  readonly msg: Msg;
  readonly meta: CallMeta;
  /** For a call a broker forwarded: where the answer goes (`sb-reply`). */
  readonly replyTo: string | undefined;
  /** Whether this is the caller's notice that it gave up on the call. */
  readonly cancel: boolean;
  /** Whether the forwarding broker takes the done notice in a batch (`sb-done`). */
  readonly done?: boolean;
}

/** Reads a call's headers; throws `BAD_REQUEST` naming what is wrong. */
export function readCallRequest(msg: Msg): CallRequest {
  const headers = headersOf(msg);
  return {
    msg,
    meta: readCallMeta(headers),
    replyTo: readReplyTo(headers),
    cancel: isCancelNotice(headers),
    done: headers !== undefined && headers.get(Header.done) !== '',
  };
}

const EMPTY = new Uint8Array(0);

/**
 * Sends the answer to a call: to the message's reply subject or, for a call a
 * broker forwarded, to the caller's subject in `sb-reply`, with a notice to
 * the broker that the call ended: an empty reply, or a place in the next
 * batch of done notices when the broker asked for that (`sb-done`). Throws
 * what NATS throws (too large, closed).
 */
export function answerCall(
  nc: NatsConnection,
  call: Pick<CallRequest, 'msg' | 'replyTo' | 'done'>,
  body: Uint8Array,
  headers: HeaderBlock | MsgHdrs | undefined,
): void {
  const reply = call.msg.reply;
  if (call.replyTo !== undefined) {
    publishFrame(nc, call.replyTo, body, undefined, headers);
    if (reply && !(call.done && doneNotices(nc).add(reply))) publishFrame(nc, reply, EMPTY);
  } else if (reply) {
    publishFrame(nc, reply, body, undefined, headers);
  }
}

/** Answers a call with an error (see {@link answerCall}). */
export function answerCallError(
  nc: NatsConnection,
  call: Pick<CallRequest, 'msg' | 'replyTo' | 'done'>,
  codec: Codec,
  err: SwitchboardError,
): void {
  answerCall(nc, call, codec.encode(err.toData()), errorReplyHeaders());
}
