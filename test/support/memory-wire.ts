/**
 * Speaking the wire protocol by hand over the in-memory NATS
 * (`memory-nats.ts`): requests with msgpack bodies, their replies decoded
 * (an error reply rebuilt into the error it carries), and a logger that
 * records what it is told.
 */
import type { Msg, MsgHdrs } from 'nats';
import { Codec, PROTOCOL_VERSION, type SwitchboardError } from '../../src/protocol/index.js';
import { readReply } from '../../src/transport/index.js';
import type { Logger } from '../../src/util/index.js';
import { type MemoryConnection, within } from './memory-nats.js';

export const codec = new Codec();
export const V = PROTOCOL_VERSION;

/** Sends `body` (encoded) to `subject` and returns the reply message (see `within`). */
export function ask(
  nc: MemoryConnection,
  subject: string,
  body: unknown,
  headers?: MsgHdrs,
): Promise<Msg> {
  const reply = nc.request(subject, codec.encode(body), { timeout: 60_000, headers });
  return within(reply, () => `a reply from ${subject}`);
}

/** The decoded value of a result reply (an error reply is thrown). */
export function resultIn(msg: Msg): unknown {
  const reply = readReply(msg, codec);
  if (!reply.ok) throw reply.error;
  return codec.decode(reply.body);
}

/** The error an error reply carries (a result fails the test). */
export function errorIn(msg: Msg): SwitchboardError {
  const reply = readReply(msg, codec);
  if (reply.ok) throw new Error(`expected an error reply, got ${JSON.stringify(resultIn(msg))}`);
  return reply.error;
}

/** The decoded bodies of messages. */
export function bodies(messages: readonly Msg[]): unknown[] {
  return messages.map((m) => codec.decode(m.data));
}

/** One line a {@link RecordingLogger} was told. */
export interface LogLine {
  level: keyof Logger;
  message: string;
  fields: Record<string, unknown> | undefined;
}

/** A logger that keeps every line. */
export class RecordingLogger implements Logger {
  readonly lines: LogLine[] = [];
  debug(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'debug', message, fields });
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'info', message, fields });
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'error', message, fields });
  }

  /** The messages logged at `level`. */
  at(level: keyof Logger): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message);
  }
}
