import type { MsgHdrs, NatsConnection } from 'nats';
import { HeaderBlock } from '../protocol/index.js';

/**
 * The part of nats.js's protocol handler (`nc.protocol`, nats 2.29) that
 * {@link publishFrame} writes through. It is not in nats.js's typings: each
 * publish checks that it is there, and publishes through `nc.publish`
 * otherwise.
 */
interface FrameSink {
  /** Queues protocol bytes for the socket (written by nats.js, batched as every publish). */
  sendCommand(command: Uint8Array, ...payloads: Uint8Array[]): void;
  /** The server's INFO once connected: its max_payload and whether it takes headers (absent: no). */
  info?: { max_payload?: number; headers?: boolean };
  /** Set once a drain has started: publishing is refused from then on. */
  noMorePublishing: boolean;
  /** `nc.stats()` counters. */
  outBytes: number;
  outMsgs: number;
}

const CRLF = Buffer.from('\r\n');

function sinkOf(nc: NatsConnection): FrameSink | undefined {
  const sink = (nc as { protocol?: Partial<FrameSink> }).protocol;
  if (
    typeof sink?.sendCommand !== 'function' ||
    typeof sink.noMorePublishing !== 'boolean' ||
    typeof sink.outBytes !== 'number' ||
    typeof sink.outMsgs !== 'number'
  ) {
    return undefined;
  }
  return sink as FrameSink;
}

/** Whether {@link publishFrame} writes frames itself on `nc` (else it calls `nc.publish`). */
export function writesFrames(nc: NatsConnection): boolean {
  return sinkOf(nc) !== undefined;
}

/**
 * Publishes a message as `nc.publish(subject, body, { reply, headers })`
 * does, at less cost per message: the `PUB`/`HPUB` line and a
 * {@link HeaderBlock} go out as one buffer, where nats.js encodes the line
 * with a `TextEncoder` (a fresh `ArrayBuffer` per message) and the block
 * apart. The body is queued by reference, as nats.js does. Whatever nats.js
 * would refuse or treat apart goes through `nc.publish`, which throws its own
 * error: a closed or draining connection, an empty subject, a message over
 * the server's max_payload, headers to a server without them, headers that
 * are not a {@link HeaderBlock}.
 */
export function publishFrame(
  nc: NatsConnection,
  subject: string,
  body: Uint8Array,
  reply?: string,
  headers?: HeaderBlock | MsgHdrs,
): void {
  const sink = sinkOf(nc);
  const info = sink?.info;
  if (
    sink === undefined ||
    subject === '' ||
    sink.noMorePublishing ||
    nc.isClosed() ||
    (headers !== undefined && (!(headers instanceof HeaderBlock) || (info && !info.headers)))
  ) {
    return publishViaNats(nc, subject, body, reply, headers);
  }
  const replyPart = reply ? ` ${reply}` : '';
  let size = body.length;
  let line: string;
  if (headers === undefined) {
    line = `PUB ${subject}${replyPart} ${size}\r\n`;
  } else {
    const block = headers.text();
    const blockBytes = Buffer.byteLength(block);
    size += blockBytes;
    line = `HPUB ${subject}${replyPart} ${blockBytes} ${size}\r\n${block}`;
  }
  const maxPayload = info?.max_payload;
  if (maxPayload !== undefined && size > maxPayload) {
    return publishViaNats(nc, subject, body, reply, headers);
  }
  sink.outBytes += size;
  sink.outMsgs++;
  sink.sendCommand(Buffer.from(line), body, CRLF);
}

function publishViaNats(
  nc: NatsConnection,
  subject: string,
  body: Uint8Array,
  reply: string | undefined,
  headers: HeaderBlock | MsgHdrs | undefined,
): void {
  nc.publish(subject, body, { reply, headers: headers as MsgHdrs | undefined });
}
