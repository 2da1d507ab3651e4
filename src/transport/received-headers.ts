import type { Msg } from 'nats';
import {
  ErrorCode,
  type HeaderReader,
  parseHeaderBlock,
  SwitchboardError,
} from '../protocol/index.js';

const PARSED = Symbol('switchboard.headers');

/** The parts of nats.js's message object that hold the raw header bytes. */
interface RawMsg {
  _msg?: { hdr?: number };
  _rdata?: Uint8Array;
  [PARSED]?: HeaderReader | null;
}

/**
 * The headers of a received message. Where nats.js keeps the raw header block
 * (it does in 2.x), it is parsed directly, at a fraction of the cost of
 * `msg.headers`; otherwise `msg.headers` is used. Parsed once per message.
 */
export function headersOf(msg: Msg): HeaderReader | undefined {
  const raw = msg as unknown as RawMsg;
  const cached = raw[PARSED];
  if (cached !== undefined) return cached ?? undefined;
  let reader: HeaderReader | undefined;
  const length = raw._msg?.hdr;
  if (typeof length === 'number' && raw._rdata instanceof Uint8Array) {
    reader = length > 0 ? parseHeaderBlock(raw._rdata, length) : undefined;
  } else {
    try {
      reader = msg.headers;
    } catch (err) {
      throw new SwitchboardError(ErrorCode.BAD_REQUEST, `malformed headers: ${String(err)}`, {
        completed: 'no',
      });
    }
  }
  raw[PARSED] = reader ?? null;
  return reader;
}

/** Whether {@link headersOf} can read raw header bytes from this nats.js (checked by the tests). */
export function readsRawHeaders(msg: Msg): boolean {
  const raw = msg as unknown as RawMsg;
  return typeof raw._msg?.hdr === 'number' && raw._rdata instanceof Uint8Array;
}
