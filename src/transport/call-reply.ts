import type { Msg } from 'nats';
import type { CallReply } from '../core/index.js';
import { type Codec, ErrorCode, isErrorReply, parse, SwitchboardError } from '../protocol/index.js';
import { headersOf } from './received-headers.js';

/**
 * Reads a reply to one of our requests: a result body, or an error reply
 * rebuilt into a {@link SwitchboardError}. The one place error replies are
 * decoded. A reply is untrusted like any message: one that claims to be an
 * error but cannot be read fails the call with `UNAVAILABLE` (completion
 * `maybe`: something answered, so the handler may have run).
 */
export function readReply(msg: Msg, codec: Codec): CallReply {
  if (!isErrorReply(headersOf(msg))) return { ok: true, body: msg.data };
  let error: SwitchboardError;
  try {
    error = SwitchboardError.fromData(parse.errorData(codec.decode(msg.data)));
  } catch (err) {
    error = new SwitchboardError(
      ErrorCode.UNAVAILABLE,
      `unreadable error reply: ${(err as Error).message}`,
      { completed: 'maybe', cause: err },
    );
  }
  return { ok: false, error, body: msg.data };
}
