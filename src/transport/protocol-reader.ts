import type { NatsConnection } from 'nats';
import { MsgImpl } from 'nats/lib/nats-base-client/msg.js';
import { type Backlog, holdsBacklog } from '../util/late-timers.js';

/**
 * The parts of nats.js's protocol handler (`nc.protocol`, nats 2.29) that a
 * {@link ProtocolReader} reads for and delivers through. They are not in
 * nats.js's typings: {@link installProtocolReader} checks that they are there
 * and leaves nats.js's own reader in place otherwise.
 */
interface ReaderHost {
  /** What the read loop hands every chunk from the socket to (`parser.parse`). */
  parser: Delegate;
  /** Called at every reconnection; makes `parser` anew (a new nats.js parser). */
  resetOutbound(): void;
  /** Called once the socket is closed, with `transport.closeError || lastError`. */
  disconnected(err?: unknown): Promise<void>;
  /** The last `-ERR` read. */
  lastError?: unknown;
  transport?: { closeError?: unknown };
  subscriptions: {
    sidCounter: number;
    get(sid: number): DeliveredTo | undefined;
  };
  inMsgs: number;
  inBytes: number;
  /** Set once the connection is closed: nothing more is delivered. */
  _closed?: boolean;
}

/** nats.js's subscription, as its `processMsg` delivers to it. */
interface DeliveredTo {
  received: number;
  max?: number;
  callback?: (err: null, msg: MsgImpl) => void;
  unsubscribe(): void;
}

/** nats.js's own reader: every operation but `MSG` and `HMSG` goes to it. */
interface Delegate {
  parse(buf: Uint8Array): void;
  /** 0 (`OP_START`) between operations. */
  readonly state: number;
}

const HOSTS = new WeakSet<object>();

function hostOf(nc: NatsConnection): ReaderHost | undefined {
  const host = (nc as { protocol?: Partial<ReaderHost> }).protocol;
  if (
    typeof host?.parser?.parse !== 'function' ||
    typeof host.parser.state !== 'number' ||
    typeof host.resetOutbound !== 'function' ||
    typeof host.disconnected !== 'function' ||
    typeof host.subscriptions?.get !== 'function' ||
    typeof host.subscriptions.sidCounter !== 'number' ||
    typeof host.inMsgs !== 'number' ||
    typeof host.inBytes !== 'number'
  ) {
    return undefined;
  }
  return host as ReaderHost;
}

/**
 * Reads what the server sends on `nc` with a {@link ProtocolReader} instead
 * of nats.js's parser, now and after every reconnection: the messages
 * delivered are the same, at about half the cost of reading each. Returns
 * whether it reads `nc` now. Leaves nats.js's reader in place where its
 * protocol handler is not the one this was written against; where that
 * reader is in the middle of an operation, from the next reconnection on.
 * `onLost` is told what a subscriber threw while a lost connection's last
 * messages were delivered (nats.js's read loop, which would take it, has
 * ended by then).
 */
export function installProtocolReader(
  nc: NatsConnection,
  onLost: (error: unknown) => void = () => {},
): boolean {
  const host = hostOf(nc);
  if (!host) return false;
  if (!HOSTS.has(host)) {
    HOSTS.add(host);
    /** Delivers what the lost connection sent and is still held (a `-ERR` or `PONG` among it too). */
    const finish = (parser: Delegate): void => {
      if (!(parser instanceof ProtocolReader)) return;
      const failure = parser.finish();
      if (failure) onLost(failure.error);
    };
    const disconnected = host.disconnected;
    host.disconnected = function (this: ReaderHost, err?: unknown) {
      finish(this.parser);
      // As nats.js computed it, with a `-ERR` that was held now read.
      return disconnected.call(this, this.transport?.closeError || this.lastError || err);
    };
    const reset = host.resetOutbound;
    host.resetOutbound = function (this: ReaderHost) {
      finish(this.parser);
      reset.call(this);
      // A new connection, read from its start: nats.js has just made its parser anew.
      this.parser = new ProtocolReader(this, this.parser);
    };
  }
  if (host.parser.state !== 0) return false;
  if (!(host.parser instanceof ProtocolReader)) host.parser = new ProtocolReader(host, host.parser);
  return true;
}

/** Whether `nc` is read by a {@link ProtocolReader} (see {@link installProtocolReader}). */
export function readsProtocol(nc: NatsConnection): boolean {
  const host = hostOf(nc);
  return host !== undefined && host.parser instanceof ProtocolReader;
}

/**
 * Longest control line carried from one chunk to the next; a longer one
 * (no server sends one) is left to nats.js's parser, which grows its buffer
 * as nats.js always has.
 */
const MAX_CARRIED_LINE = 1024 * 1024;

/**
 * Messages of a socket chunk delivered in one go; the rest of the chunk
 * waits for a `setImmediate`. The continuations of a slice run, and
 * nats.js flushes what they sent, before the next slice is read: the
 * process at the other end gets work while this one reads on, where a
 * chunk of 256 replies delivered in one go would hold back every call they
 * start until the last is read (docs/performance.md, item 19).
 */
export const SLICE_MESSAGES = 128;

/**
 * Most bytes received and waiting for a later slice; past it everything
 * waiting is read at once, as it came, so that memory does not follow a
 * sender faster than this process.
 */
export const MAX_WAITING_BYTES = 256 * 1024;

const NL = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
/** ASCII letters, upper or lower case, as `byte | LOWER`. */
const LOWER = 0x20;
/** Start and end of each argument of the line being read: at most five. */
const SPANS = new Array<number>(10).fill(0);
const TEXT = new TextDecoder();

/**
 * A message's arguments as nats.js's `MsgImpl` reads them (`_msg`): the
 * subject and reply bytes are cut from the line only if asked for.
 */
class MsgArgs {
  readonly #line: Buffer;
  readonly #subject: number;
  readonly #subjectEnd: number;
  readonly #reply: number;
  readonly #replyEnd: number;
  constructor(
    line: Buffer,
    subject: number,
    subjectEnd: number,
    reply: number,
    replyEnd: number,
    readonly sid: number,
    readonly hdr: number,
    readonly size: number,
  ) {
    this.#line = line;
    this.#subject = subject;
    this.#subjectEnd = subjectEnd;
    this.#reply = reply;
    this.#replyEnd = replyEnd;
  }
  get subject(): Uint8Array {
    return this.#line.subarray(this.#subject, this.#subjectEnd);
  }
  get reply(): Uint8Array | undefined {
    return this.#reply < 0 ? undefined : this.#line.subarray(this.#reply, this.#replyEnd);
  }
  /** The subject as text. */
  subjectText(): string {
    return decode(this.#line, this.#subject, this.#subjectEnd);
  }
  /** The reply subject as text; `''` when there is none. */
  replyText(): string {
    return this.#reply < 0 ? '' : decode(this.#line, this.#reply, this.#replyEnd);
  }
}

/** A message whose payload, or the byte after it, has not arrived yet. */
interface PartialMsg {
  args: MsgArgs;
  /** The payload's pieces so far. */
  parts: Uint8Array[];
  filled: number;
}

/**
 * Reads the NATS protocol from the server, one socket chunk at a time, as
 * nats.js's parser does, but finding each `MSG`/`HMSG` control line's end
 * with `indexOf` and cutting its arguments in one tight loop, where nats.js
 * steps every byte through a state machine and cuts each argument as a
 * view; it delivers each message as nats.js's protocol handler does (same
 * `Msg` objects, counters and `max` handling, and no earlier in the
 * stream: once the byte after the payload has arrived), with its subject
 * and reply decoded once. Every other operation (`INFO`, `PING`, `PONG`,
 * `+OK`, `-ERR`), any message line nats.js would read otherwise or refuse,
 * and any overlong line, is handed to nats.js's own parser, which acts on
 * it (or throws) as before.
 *
 * A chunk is read {@link SLICE_MESSAGES} messages at a time: the rest, and
 * every chunk that arrives before it is read, waits for the next
 * `setImmediate` (about {@link MAX_WAITING_BYTES} at most), in order,
 * other operations too: a message is then delivered after the byte after
 * its payload has arrived, not at once. What a later slice throws, the
 * next chunk's `parse` throws to nats.js's read loop, which ends there.
 */
export class ProtocolReader implements Delegate, Backlog {
  readonly state = 0;
  readonly #host: ReaderHost;
  readonly #delegate: Delegate;
  readonly #slice: number;
  /** Messages this slice may still deliver. */
  #budget = 0;
  /** Received and not read yet, in order, with the tasks of {@link afterHeld} among it. */
  #waiting: (Buffer | (() => void))[] = [];
  #waitingBytes = 0;
  #scheduled = false;
  /** What a later slice threw, for the next `parse`. */
  #failure: { error: unknown } | undefined;
  /** The pieces of a control line whose end has not arrived yet. */
  #lineParts: Buffer[] = [];
  #lineLength = 0;
  /** A message whose payload, or the byte after it, has not all arrived yet. */
  #partial: PartialMsg | undefined;
  /** After a payload and the byte after it: the rest of its line is skipped. */
  #skipLine = false;
  /**
   * nats.js's parser was handed the start of an operation (an overlong
   * line, or a message line it reads otherwise than this reader would): it
   * reads on until a chunk ends between two operations.
   */
  #delegating = false;

  /** `slice`: messages delivered in one go ({@link SLICE_MESSAGES}). */
  constructor(host: ReaderHost, delegate: Delegate, slice = SLICE_MESSAGES) {
    this.#host = host;
    this.#delegate = delegate;
    this.#slice = slice;
  }

  parse(chunk: Uint8Array): void {
    this.#throwFailure();
    if (this.#waiting.length === 0) {
      this.#budget = this.#slice;
      const rest = this.#read(chunk);
      if (rest) this.#hold(rest, false);
      return;
    }
    const buf = asBuffer(chunk);
    this.#hold(buf, true);
    // Memory must not follow the sender: past the bound, everything goes now, as it came.
    if (this.#waitingBytes > MAX_WAITING_BYTES) {
      this.#readWaiting(Number.POSITIVE_INFINITY);
      this.#throwFailure();
    }
  }

  /** Throws what a slice read outside `parse` threw: nats.js's read loop takes it as one thrown there. */
  #throwFailure(): void {
    const failure = this.#takeFailure();
    if (failure) throw failure.error;
  }

  #takeFailure(): { error: unknown } | undefined {
    const failure = this.#failure;
    this.#failure = undefined;
    return failure;
  }

  /**
   * Hands on everything received and not delivered yet, now: the
   * connection is lost, and what it sent goes before nats.js acts on the
   * loss. Returns what a subscriber threw meanwhile, if one did.
   */
  finish(): { error: unknown } | undefined {
    this.#readWaiting(Number.POSITIVE_INFINITY);
    return this.#takeFailure();
  }

  afterHeld(done: () => void): void {
    if (this.#waiting.length === 0) setImmediate(done);
    else this.#waiting.push(done);
  }

  /** Keeps `piece` to read in a later slice: after what waits, or before it (the rest of the chunk being read). */
  #hold(piece: Buffer, last: boolean): void {
    if (last) this.#waiting.push(piece);
    else this.#waiting.unshift(piece);
    this.#waitingBytes += piece.length;
    holdsBacklog(this, true);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#nextSlice);
  }

  readonly #nextSlice = (): void => {
    this.#scheduled = false;
    this.#readWaiting(this.#slice);
    if (this.#waiting.length === 0) return;
    this.#scheduled = true;
    setImmediate(this.#nextSlice);
  };

  /** Reads what waits, up to `budget` messages, in order; a marker of {@link afterHeld} calls its task once reached. */
  #readWaiting(budget: number): void {
    const waiting = this.#waiting;
    if (this.#host._closed === true) this.#discard();
    this.#budget = budget;
    try {
      while (waiting.length > 0 && this.#budget > 0) {
        const next = waiting.shift()!;
        if (typeof next === 'function') {
          setImmediate(next);
          continue;
        }
        this.#waitingBytes -= next.length;
        const rest = this.#read(next);
        if (rest) {
          waiting.unshift(rest);
          this.#waitingBytes += rest.length;
        }
      }
    } catch (error) {
      // Nothing after a throw is read: nats.js's read loop ends at its first throw.
      this.#failure = { error };
      this.#discard();
    }
    if (waiting.length === 0) holdsBacklog(this, false);
  }

  /** Drops what waits; the tasks of {@link afterHeld} among it still run. */
  #discard(): void {
    for (const next of this.#waiting) if (typeof next === 'function') setImmediate(next);
    this.#waiting.length = 0;
    this.#waitingBytes = 0;
  }

  /**
   * Reads `chunk` until it is used up (`undefined`) or {@link #budget}
   * messages are delivered: then returns the rest, from the next operation on.
   */
  #read(chunk: Uint8Array): Buffer | undefined {
    if (this.#delegating) {
      this.#delegate.parse(chunk);
      this.#delegating = this.#delegate.state !== 0;
      return undefined;
    }
    const buf = asBuffer(chunk);
    let at = 0;
    if (this.#partial) {
      at = this.#fill(buf);
      if (at < 0) return undefined;
    }
    if (this.#skipLine) {
      const nl = buf.indexOf(NL, at);
      if (nl < 0) return undefined;
      this.#skipLine = false;
      at = nl + 1;
    }
    if (this.#lineLength > 0) {
      const nl = buf.indexOf(NL, at);
      if (nl < 0) return this.#carry(buf.subarray(at));
      // The control line, whole, in a buffer of its own; its payload from the chunk.
      this.#lineParts.push(buf.subarray(at, nl + 1));
      const whole = Buffer.concat(this.#lineParts, this.#lineLength + nl + 1 - at);
      this.#lineParts = [];
      this.#lineLength = 0;
      at = this.#operation(whole, 0, whole.length - 1, buf, nl + 1);
      if (at < 0) return undefined;
    }
    while (at < buf.length) {
      if (this.#budget <= 0) return buf.subarray(at);
      const nl = buf.indexOf(NL, at);
      if (nl < 0) return this.#carry(buf.subarray(at));
      at = this.#operation(buf, at, nl, buf, nl + 1);
      if (at < 0) return undefined;
    }
    return undefined;
  }

  /**
   * The operation whose control line is `line[start..nl]` (`nl` at its
   * `\n`), its payload (if any) from `buf[next..]`. Returns where the next
   * operation starts in `buf`, or -1 when the chunk is used up.
   */
  #operation(line: Buffer, start: number, nl: number, buf: Buffer, next: number): number {
    const op = messageOp(line, start);
    const args = op === 0 ? undefined : readArgs(line, start + op, nl, op === 5);
    if (!args) return this.#handOver(line.subarray(start, nl + 1), buf, next);
    const end = next + args.size;
    if (end < buf.length) {
      // nats.js delivers on the byte after the payload (the `\r`), then skips to the `\n`.
      this.#deliver(args, buf.subarray(next, end));
      const after = buf.indexOf(NL, end + 1);
      if (after >= 0) return after + 1;
      this.#skipLine = true;
      return -1;
    }
    // Arguments of their own, so that the message does not hold this chunk.
    const own = Buffer.from(line.subarray(start, nl + 1));
    const kept = readArgs(own, op, own.length - 1, op === 5)!;
    const piece = buf.subarray(next, Math.min(end, buf.length));
    this.#partial = { args: kept, parts: piece.length > 0 ? [piece] : [], filled: piece.length };
    return -1;
  }

  /**
   * Goes on with {@link #partial} from the start of `buf`: where the rest of
   * the chunk starts once the message is delivered, -1 while it is not.
   */
  #fill(buf: Buffer): number {
    const partial = this.#partial!;
    const { size } = partial.args;
    let at = 0;
    if (partial.filled < size) {
      at = Math.min(size - partial.filled, buf.length);
      partial.parts.push(buf.subarray(0, at));
      partial.filled += at;
      if (partial.filled < size) return -1;
    }
    if (at >= buf.length) return -1;
    this.#partial = undefined;
    const { parts } = partial;
    this.#deliver(partial.args, parts.length === 1 ? parts[0]! : Buffer.concat(parts, size));
    this.#skipLine = true;
    return at + 1;
  }

  /** Keeps the start of a control line (a copy) for the next chunk; nats.js's parser takes an overlong one. */
  #carry(piece: Buffer): undefined {
    this.#lineParts.push(Buffer.from(piece));
    this.#lineLength += piece.length;
    if (this.#lineLength <= MAX_CARRIED_LINE) return;
    const parts = this.#lineParts;
    this.#lineParts = [];
    this.#lineLength = 0;
    for (const part of parts) this.#delegate.parse(part);
    this.#delegating = this.#delegate.state !== 0;
  }

  /** Hands a whole operation to nats.js's parser; the rest of the chunk too if it is left in the middle of one. */
  #handOver(operation: Uint8Array, buf: Buffer, next: number): number {
    const delegate = this.#delegate;
    delegate.parse(operation);
    if (delegate.state === 0) return next;
    delegate.parse(buf.subarray(next));
    this.#delegating = delegate.state !== 0;
    return -1;
  }

  /** As nats.js's `ProtocolHandler.processMsg`, with the subject and reply decoded here. */
  #deliver(args: MsgArgs, data: Uint8Array): void {
    const host = this.#host;
    this.#budget--;
    host.inMsgs++;
    host.inBytes += data.length;
    // Closed while this waited, or by a subscriber of this slice: nats.js delivers nothing after its close.
    if (!host.subscriptions.sidCounter || host._closed === true) return;
    const sub = host.subscriptions.get(args.sid);
    if (!sub) return;
    sub.received += 1;
    if (sub.callback) {
      const msg = new MsgImpl(args as never, data, host as never) as MsgImpl & {
        _subject?: string;
        _reply?: string;
      };
      msg._subject = args.subjectText();
      const reply = args.replyText();
      if (reply) msg._reply = reply;
      sub.callback(null, msg);
    }
    if (sub.max !== undefined && sub.received >= sub.max) sub.unsubscribe();
  }
}

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
}

/**
 * 4 when `line` has `MSG` and a blank at `at`, 5 for `HMSG` and a blank
 * (letters in either case, as nats.js reads them), else 0.
 */
function messageOp(line: Buffer, at: number): number {
  let i = at;
  const first = line[i]! | LOWER;
  if (first === 0x68 /* h */) i++;
  else if (first !== 0x6d /* m */) return 0;
  if (
    (line[i]! | LOWER) !== 0x6d ||
    (line[i + 1]! | LOWER) !== 0x73 ||
    (line[i + 2]! | LOWER) !== 0x67
  ) {
    return 0;
  }
  const blank = line[i + 3];
  if (blank !== SPACE && blank !== TAB) return 0;
  return i + 4 - at;
}

/**
 * The arguments of a `MSG` (`subject sid [reply] size`) or `HMSG`
 * (`subject sid [reply] hdr size`) line, from `from` to `nl`; undefined
 * where nats.js would refuse them, or read them otherwise: a `\r` anywhere
 * but before the `\n` (nats.js then drops the line's last byte).
 */
function readArgs(line: Buffer, from: number, nl: number, headers: boolean): MsgArgs | undefined {
  const spans = SPANS;
  let count = 0;
  let start = -1;
  for (let i = from; i < nl; i++) {
    const b = line[i]!;
    if (b === SPACE || b === TAB || b === CR) {
      if (b === CR && i !== nl - 1) return undefined;
      if (start >= 0) {
        if (count === 5) return undefined;
        spans[2 * count] = start;
        spans[2 * count + 1] = i;
        count++;
        start = -1;
      }
    } else if (start < 0) start = i;
  }
  if (start >= 0) {
    if (count === 5) return undefined;
    spans[2 * count] = start;
    spans[2 * count + 1] = nl;
    count++;
  }
  const withReply = count === (headers ? 5 : 4);
  if (!withReply && count !== (headers ? 4 : 3)) return undefined;
  const sid = parseCount(line, spans[2]!, spans[3]!);
  const sizeAt = 2 * (count - 1);
  const size = parseCount(line, spans[sizeAt]!, spans[sizeAt + 1]!);
  const hdr = headers ? parseCount(line, spans[sizeAt - 2]!, spans[sizeAt - 1]!) : -1;
  if (sid < 0 || size < 0 || (headers && (hdr < 0 || hdr > size))) return undefined;
  const replyStart = withReply ? spans[4]! : -1;
  const replyEnd = withReply ? spans[5]! : -1;
  return new MsgArgs(line, spans[0]!, spans[1]!, replyStart, replyEnd, sid, hdr, size);
}

/** A decimal count of ASCII digits, as nats.js reads one: -1 when empty or not all digits. */
function parseCount(line: Buffer, start: number, end: number): number {
  if (end <= start) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = line[i]! - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** As nats.js decodes a subject: with a `TextDecoder` (which drops a leading BOM) where one starts the subject. */
function decode(line: Buffer, start: number, end: number): string {
  if (line[start] === 0xef) return TEXT.decode(line.subarray(start, end));
  return line.toString('utf8', start, end);
}
