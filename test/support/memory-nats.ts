/**
 * An in-memory NATS: a {@link MemoryBus} routes what its connections publish
 * to their subscriptions, so that unit tests drive the real wiring (a
 * `Broker`, a `ServerProxy`, a `Client`, the broker client) in-process, in
 * milliseconds. Pass `bus.connect()` where a component takes a borrowed
 * connection (`connection` in its options).
 *
 * What it does as NATS does:
 * - subjects with `*` (one token) and `>` (the rest) wildcards; queue groups
 *   (one member of each group gets a message: here the next one in turn, so
 *   tests are repeatable);
 * - delivery later than the publish (a microtask), in publish order; who gets
 *   a message is settled when it is published, as the server does;
 * - a message published with a reply subject that no subscription hears is
 *   answered with a `503` status and an empty body (nats.js asks for that);
 * - messages carry their header block raw (`_msg.hdr`, `_rdata`), as nats.js
 *   2.x messages do, so `headersOf()` reads them the way it reads real ones;
 * - a publish over `max_payload` (data plus header block) throws
 *   `MAX_PAYLOAD_EXCEEDED`, and one on a closed connection `CONNECTION_CLOSED`.
 *
 * What tests add: {@link MemoryBus.filter} drops messages;
 * {@link MemoryConnection.disconnect} and {@link MemoryConnection.reconnect}
 * take one connection away and back (status events included; what it
 * publishes meanwhile is held, what is sent to it is lost);
 * {@link MemoryConnection.emitStatus} raises any status event.
 *
 * Delivery uses microtasks, which vitest's fake timers leave alone: the bus
 * works under `vi.useFakeTimers()`; only timeouts of {@link MemoryConnection.request} need
 * the clock advanced.
 */
import {
  ErrorCode,
  type Msg,
  type MsgHdrs,
  MsgHdrsImpl,
  type NatsConnection,
  NatsError,
  type Status,
} from 'nats';

/** How {@link MemoryBus.connect} sets a connection up. */
export interface MemoryConnectOptions {
  /** Named in {@link Delivery.from}, for filters. @default `c<n>` */
  name?: string;
  /** nats.js keeps it in `options`, where a borrowed connection's inbox prefix is read. */
  inboxPrefix?: string;
}

/** One message on its way to one subscription; what {@link MemoryBus.filter} sees. */
export interface Delivery {
  subject: string;
  reply: string;
  data: Uint8Array;
  /** The header block as sent (empty without headers). */
  headerBytes: Uint8Array;
  /** The publishing connection's name (`nats-server` for a no-responders status). */
  from: string;
  /** The receiving connection's name. */
  to: string;
}

/** A subscription as nats.js hands it out, with what tests need to look at. */
export interface MemorySubscription {
  readonly subject: string;
  readonly queue: string | undefined;
  unsubscribe(): void;
  drain(): Promise<void>;
  isClosed(): boolean;
  /** Calls the callback with `err`, as nats.js does when the server refuses the subscription. */
  fail(err: NatsError): void;
}

const EMPTY = new Uint8Array(0);
const TE = new TextEncoder();
/** The header block NATS sends when nothing listens on a request's subject. */
const NO_RESPONDERS = TE.encode('NATS/1.0 503\r\n\r\n');

/** The routing of one bus. */
export class MemoryBus {
  /** The `max_payload` connections report and enforce. */
  maxPayload: number;
  /** The cluster name connections report in their server info, as a clustered nats-server does. */
  cluster: string | undefined;
  /** Returns false to drop a message on its way to one subscription. @default none */
  filter: ((delivery: Delivery) => boolean) | undefined;
  readonly #subs = new Set<Sub>();
  readonly #queueTurns = new Map<string, number>();
  #connections = 0;
  #sid = 0;

  constructor({
    maxPayload = 1024 * 1024,
    cluster,
  }: { maxPayload?: number; cluster?: string } = {}) {
    this.maxPayload = maxPayload;
    this.cluster = cluster;
  }

  /** A new connection to this bus (typed as nats.js's; see {@link MemoryConnection}). */
  connect(options: MemoryConnectOptions = {}): MemoryConnection & NatsConnection {
    const name = options.name ?? `c${++this.#connections}`;
    return new MemoryConnection(this, name, options) as MemoryConnection & NatsConnection;
  }

  /** Subscriptions open on the bus, over every connection. */
  get subscriptionCount(): number {
    return this.#subs.size;
  }

  /** @internal */
  add(sub: Sub): void {
    this.#subs.add(sub);
  }

  /** @internal */
  remove(sub: Sub): void {
    this.#subs.delete(sub);
  }

  /** @internal */
  nextSid(): number {
    return ++this.#sid;
  }

  /** @internal Routes one message now; delivers it in a microtask. */
  route(from: string, subject: string, reply: string, headerBytes: Uint8Array, data: Uint8Array) {
    const tokens = subject.split('.');
    const plain: Sub[] = [];
    const groups = new Map<string, Sub[]>();
    for (const sub of this.#subs) {
      if (!matches(sub.tokens, tokens)) continue;
      if (sub.queue === undefined) plain.push(sub);
      else groups.set(sub.queue, [...(groups.get(sub.queue) ?? []), sub]);
    }
    for (const [queue, members] of groups) {
      const turn = this.#queueTurns.get(queue) ?? 0;
      this.#queueTurns.set(queue, turn + 1);
      plain.push(members[turn % members.length]!);
    }
    if (plain.length === 0) {
      if (reply !== '') this.route('nats-server', reply, '', NO_RESPONDERS, EMPTY);
      return;
    }
    for (const sub of plain) {
      const delivery: Delivery = { subject, reply, data, headerBytes, from, to: sub.conn.name };
      queueMicrotask(() => {
        if (this.filter && !this.filter(delivery)) return;
        sub.deliver(delivery);
      });
    }
  }
}

/** Whether subscription tokens (with `*` and `>`) match a subject's tokens. */
function matches(pattern: readonly string[], subject: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === '>') return subject.length > i;
    if (i >= subject.length || (p !== '*' && p !== subject[i])) return false;
  }
  return pattern.length === subject.length;
}

type Callback = (err: NatsError | null, msg: Msg) => void;

/** One subscription of one connection. */
class Sub implements MemorySubscription {
  readonly tokens: string[];
  readonly sid: number;
  #closed = false;

  constructor(
    readonly conn: MemoryConnection,
    readonly subject: string,
    readonly queue: string | undefined,
    readonly callback: Callback,
  ) {
    this.tokens = subject.split('.');
    this.sid = conn.bus.nextSid();
  }

  deliver(d: Delivery): void {
    if (this.#closed || !this.conn.up) return;
    this.callback(null, memoryMsg(this.conn, this.sid, d) as unknown as Msg);
  }

  unsubscribe(): void {
    this.#closed = true;
    this.conn.forget(this);
  }

  /** Stops new messages at once; those already routed to it are still handed over. */
  async drain(): Promise<void> {
    this.conn.bus.remove(this);
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    this.unsubscribe();
  }

  isClosed(): boolean {
    return this.#closed;
  }

  fail(err: NatsError): void {
    this.callback(err, {} as Msg);
  }
}

/**
 * A received message laid out as nats.js's `MsgImpl`: the raw header block
 * and body in `_rdata`, the header length in `_msg.hdr` (-1 without one).
 */
function memoryMsg(conn: MemoryConnection, sid: number, d: Delivery) {
  const hdr = d.headerBytes.length > 0 ? d.headerBytes.length : -1;
  const rdata = new Uint8Array(d.headerBytes.length + d.data.length);
  rdata.set(d.headerBytes);
  rdata.set(d.data, d.headerBytes.length);
  let headers: MsgHdrs | undefined;
  return {
    _msg: { hdr },
    _rdata: rdata,
    subject: d.subject,
    reply: d.reply,
    sid,
    data: hdr > 0 ? rdata.subarray(hdr) : rdata,
    get headers(): MsgHdrs | undefined {
      if (hdr > 0) headers ??= MsgHdrsImpl.decode(rdata.subarray(0, hdr));
      return headers;
    },
    respond(data?: Uint8Array | string, opts?: { headers?: MsgHdrs }): boolean {
      if (d.reply === '') return false;
      conn.publish(d.reply, data, opts);
      return true;
    },
  };
}

/** A pull queue of status events, stopped by `stop()` (nats.js's QueuedIterator, in short). */
class StatusStream implements AsyncIterableIterator<Status> {
  readonly #queued: Status[] = [];
  #waiting: ((r: IteratorResult<Status>) => void) | undefined;
  #done = false;

  constructor(readonly onStop: (s: StatusStream) => void) {}

  push(status: Status): void {
    if (this.#done) return;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = undefined;
      resolve({ value: status, done: false });
    } else {
      this.#queued.push(status);
    }
  }

  stop(): void {
    if (this.#done) return;
    this.#done = true;
    this.onStop(this);
    this.#waiting?.({ value: undefined, done: true });
    this.#waiting = undefined;
  }

  next(): Promise<IteratorResult<Status>> {
    const queued = this.#queued.shift();
    if (queued) return Promise.resolve({ value: queued, done: false });
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Status> {
    return this;
  }
}

/**
 * One connection to a {@link MemoryBus}: the part of nats.js's
 * `NatsConnection` that Switchboard uses, and what tests need to steer it.
 */
export class MemoryConnection {
  readonly info: { max_payload: number; headers: boolean; cluster: string | undefined };
  readonly options: { inboxPrefix?: string };
  readonly #subs = new Set<Sub>();
  readonly #statuses = new Set<StatusStream>();
  /** What was published while disconnected, sent on reconnection. */
  readonly #held: Array<() => void> = [];
  #closed = false;
  #up = true;
  readonly #closedPromise: Promise<void>;
  #resolveClosed!: () => void;

  constructor(
    readonly bus: MemoryBus,
    readonly name: string,
    options: MemoryConnectOptions,
  ) {
    const { bus: b } = this;
    this.info = {
      get max_payload() {
        return b.maxPayload;
      },
      headers: true,
      get cluster() {
        return b.cluster;
      },
    };
    this.options = options.inboxPrefix === undefined ? {} : { inboxPrefix: options.inboxPrefix };
    this.#closedPromise = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** Whether messages reach this connection (open and not disconnected). */
  get up(): boolean {
    return this.#up && !this.#closed;
  }

  /** Subscriptions open on this connection. */
  get subscriptions(): readonly MemorySubscription[] {
    return [...this.#subs];
  }

  publish(subject: string, payload?: Uint8Array | string, opts: PublishOpts = {}): void {
    if (this.#closed) throw NatsError.errorForCode(ErrorCode.ConnectionClosed);
    const data = typeof payload === 'string' ? TE.encode(payload) : (payload ?? EMPTY);
    const headers = opts.headers as { encode(): Uint8Array } | undefined;
    const headerBytes = headers ? headers.encode() : EMPTY;
    if (data.length + headerBytes.length > this.bus.maxPayload) {
      throw NatsError.errorForCode(ErrorCode.MaxPayloadExceeded);
    }
    const send = () => this.bus.route(this.name, subject, opts.reply ?? '', headerBytes, data);
    if (this.#up) send();
    else this.#held.push(send);
  }

  subscribe(subject: string, opts: { queue?: string; callback?: Callback } = {}) {
    if (this.#closed) throw NatsError.errorForCode(ErrorCode.ConnectionClosed);
    if (!opts.callback) throw new Error('memory NATS: only callback subscriptions are supported');
    const sub = new Sub(this, subject, opts.queue, opts.callback);
    this.#subs.add(sub);
    this.bus.add(sub);
    return sub;
  }

  /** @internal */
  forget(sub: Sub): void {
    this.#subs.delete(sub);
    this.bus.remove(sub);
  }

  /**
   * A request as nats.js makes it: the first reply, or `NO_RESPONDERS`
   * (a 503), or `TIMEOUT` after `timeout` ms.
   */
  request(
    subject: string,
    payload?: Uint8Array | string,
    opts: { timeout?: number; headers?: MsgHdrs } = {},
  ): Promise<Msg> {
    const inbox = `${this.options.inboxPrefix ?? '_INBOX'}.${this.bus.nextSid()}`;
    return new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => {
        sub.unsubscribe();
        reject(NatsError.errorForCode(ErrorCode.Timeout));
      }, opts.timeout ?? 1000);
      const sub = this.subscribe(inbox, {
        callback: (_err, msg) => {
          clearTimeout(timer);
          sub.unsubscribe();
          if (msg.data.length === 0 && msg.headers?.code === 503) {
            reject(NatsError.errorForCode(ErrorCode.NoResponders));
          } else {
            resolve(msg);
          }
        },
      });
      this.publish(subject, payload, { reply: inbox, headers: opts.headers });
    });
  }

  /** Resolves once what was published before it has been routed (and handed over). */
  async flush(): Promise<void> {
    if (this.#closed) throw NatsError.errorForCode(ErrorCode.ConnectionClosed);
    await new Promise<void>((resolve) => queueMicrotask(resolve));
  }

  status(): AsyncIterableIterator<Status> & { stop(): void } {
    const stream = new StatusStream((s) => this.#statuses.delete(s));
    if (!this.#closed) this.#statuses.add(stream);
    else stream.stop();
    return stream;
  }

  /** Hands `status` to every status iterator of this connection. */
  emitStatus(status: Status): void {
    for (const stream of this.#statuses) stream.push(status);
  }

  /** Takes the connection away: it hears nothing, and what it publishes waits for {@link reconnect}. */
  disconnect(): void {
    if (!this.#up) return;
    this.#up = false;
    this.emitStatus({ type: 'disconnect', data: 'memory' } as Status);
  }

  /** Brings the connection back, subscriptions intact, and sends what it published meanwhile. */
  reconnect(): void {
    if (this.#up || this.#closed) return;
    this.#up = true;
    this.emitStatus({ type: 'reconnect', data: 'memory' } as Status);
    for (const send of this.#held.splice(0)) send();
  }

  isClosed(): boolean {
    return this.#closed;
  }

  isDraining(): boolean {
    return false;
  }

  getServer(): string {
    return 'memory';
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of [...this.#subs]) sub.unsubscribe();
    for (const stream of [...this.#statuses]) stream.stop();
    this.#resolveClosed();
  }

  drain(): Promise<void> {
    return this.close();
  }

  closed(): Promise<void> {
    return this.#closedPromise;
  }
}

interface PublishOpts {
  reply?: string;
  /** nats.js's `MsgHdrs`, or a `HeaderBlock`: both encode to a header block (the interface omits it). */
  headers?: MsgHdrs;
}

/** Messages received on one subject of one connection, to await and read in tests. */
export class Collected {
  readonly messages: Msg[] = [];
  readonly #waiters: Array<{ count: number; resolve: () => void }> = [];
  readonly sub: MemorySubscription;

  constructor(
    nc: MemoryConnection,
    readonly subject: string,
  ) {
    this.sub = nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        this.messages.push(msg);
        for (const w of [...this.#waiters]) {
          if (this.messages.length < w.count) continue;
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve();
        }
      },
    });
  }

  /** Resolves once `count` messages in all have arrived; fails after {@link WAIT_MS} of real time. */
  async atLeast(count: number): Promise<Msg[]> {
    if (this.messages.length < count) {
      const arrived = new Promise<void>((resolve) => this.#waiters.push({ count, resolve }));
      await within(
        arrived,
        () => `${count} messages on ${this.subject} (got ${this.messages.length})`,
      );
    }
    return this.messages;
  }

  /** The message number `index` (0-based), once it has arrived. */
  async nth(index: number): Promise<Msg> {
    return (await this.atLeast(index + 1))[index]!;
  }
}

/** Collects what `nc` hears on `subject` from now on. */
export function collect(nc: MemoryConnection, subject: string): Collected {
  return new Collected(nc, subject);
}

/** The timer functions as they were when this module loaded (before any fake timers of a test). */
const realSetImmediate = globalThis.setImmediate;
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/**
 * Longest a test waits (in real time, whatever the fake clock says) for
 * what the bus should bring: a test that would hang fails at once instead,
 * saying what it waited for.
 */
export const WAIT_MS = 2000;

/** `promise`, or a failure naming `what` after `ms` of real time. */
export function within<T>(promise: Promise<T>, what: () => string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_resolve, reject) => {
    timer = realSetTimeout(() => reject(new Error(`waited ${ms} ms for ${what()}`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => realClearTimeout(timer));
}

/**
 * Resolves once the work that needs no timer has run: messages in flight
 * handed over, the handlers' promise chains settled. (A macrotask runs only
 * when no microtask is left.) Works under fake timers too.
 */
export function idle(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve));
}
