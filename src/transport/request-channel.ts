import type { Msg, NatsConnection, Subscription } from 'nats';
import {
  DEFAULT_INBOX_PREFIX,
  DONE_TOKEN,
  ErrorCode,
  type HeaderBlock,
  REFUSED_BY_NATS,
  SwitchboardError,
} from '../protocol/index.js';
import { DeadlineTimer, randomString } from '../util/index.js';
import { publishFrame } from './frames.js';
import { headersOf } from './received-headers.js';

/** The errors made of NATS's no-responders status (see {@link RequestChannel.listens}). */
const NO_RESPONDERS = new WeakSet<SwitchboardError>();

interface Pending {
  /** Where the request went (to fail the requests to an instance that left). */
  subject: string;
  /** The call the request carries, when it carries one (see {@link RequestParams.callId}). */
  callId: string | undefined;
  /** Names the target in the timeout's message. */
  target: string;
  timeoutMs: number;
  /** Local time (epoch ms) from which the request has timed out. */
  deadline: number;
  resolve(msg: Msg): void;
  reject(err: SwitchboardError): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** What a request needs besides its subject. */
export interface RequestParams {
  data: Uint8Array;
  headers?: HeaderBlock | undefined;
  /** Milliseconds to wait for the reply. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Names the target in error messages, e.g. `calculator.add`. */
  target?: string | undefined;
  /** Called when `signal` aborts the request while it is in flight (e.g. to tell the server). */
  onAbort?: (() => void) | undefined;
  /** Id of the call the request carries, so that it can be probed ({@link RequestChannel.callsTo}). */
  callId?: string | undefined;
}

/**
 * Request/reply over one wildcard reply subscription and a map of pending
 * requests: far cheaper per call than `nc.request()`, which builds a
 * subscription entry, a timer and an Error with a stack per call. Deadlines
 * share one timer, armed for the earliest: a request costs no timer of its
 * own, and once nothing is pending the timer keeps nothing alive (see
 * {@link DeadlineTimer.idle}); `close()` clears it. When it fires late, the
 * replies already received are taken before anything is failed, so a busy
 * process whose timers run late does not time out requests answered in time.
 *
 * Rejects only with {@link SwitchboardError}: `TIMEOUT` (completed `maybe`),
 * `UNAVAILABLE` with completed `no` when nothing listens on the subject,
 * `CANCELLED` when the signal aborts, `PAYLOAD_TOO_LARGE` when NATS refuses the size,
 * `FORBIDDEN` (cause {@link REFUSED_BY_NATS}) when NATS refuses to deliver it.
 */
export class RequestChannel {
  readonly #nc: NatsConnection;
  readonly #inbox: string;
  readonly #sub: Subscription;
  readonly #pending = new Map<string, Pending>();
  #seq = 0;
  #closed = false;
  /** The one deadline timer. */
  readonly #deadlines = new DeadlineTimer((now) => this.#expire(now));

  /** @param inboxPrefix where reply subjects start (`_INBOX`, or `_INBOX.<tokens>`) */
  constructor(nc: NatsConnection, inboxPrefix: string = DEFAULT_INBOX_PREFIX) {
    this.#nc = nc;
    this.#inbox = `${inboxPrefix}.${randomString(ALPHABET, INBOX_CHARS)}`;
    this.#sub = nc.subscribe(`${this.#inbox}.*`, {
      callback: (err, msg) => {
        // Nothing a reply holds may throw into nats.js's reader: it would stop reading.
        try {
          if (!err) this.#onReply(msg);
        } catch {
          this.#settle(msg.subject.slice(this.#inbox.length + 1))?.reject(
            new SwitchboardError(ErrorCode.UNAVAILABLE, 'unreadable reply', { completed: 'maybe' }),
          );
        }
      },
    });
  }

  /** Number of requests awaiting a reply. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Sends a request to `subject` and resolves with the reply message. */
  request(subject: string, params: RequestParams): Promise<Msg> {
    if (this.#closed) {
      return Promise.reject(
        new SwitchboardError(ErrorCode.UNAVAILABLE, 'request channel is closed', {
          completed: 'no',
        }),
      );
    }
    const { signal } = params;
    if (signal?.aborted) {
      return Promise.reject(cancelled(params.target, 'no'));
    }
    const token = this.#token();
    return new Promise<Msg>((resolve, reject) => {
      const deadline = Date.now() + params.timeoutMs;
      const pending: Pending = {
        subject,
        callId: params.callId,
        target: params.target ?? subject,
        timeoutMs: params.timeoutMs,
        deadline,
        resolve,
        reject,
        signal,
        onAbort: undefined,
      };
      if (signal) {
        pending.onAbort = () => {
          const settled = this.#settle(token);
          if (!settled) return;
          settled.reject(cancelled(params.target, 'maybe'));
          params.onAbort?.();
        };
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.#pending.set(token, pending);
      this.#deadlines.arm(deadline);
      try {
        publishFrame(this.#nc, subject, params.data, `${this.#inbox}.${token}`, params.headers);
      } catch (err) {
        this.#settle(token)?.reject(publishError(err, params.target ?? subject));
      }
    });
  }

  /**
   * Whether anything listens on `subject`, by a request NATS answers with
   * its no-responders status when nothing does: `false` then, `true` on any
   * reply, `undefined` when no word came within `timeoutMs` (a listener that
   * does not answer) or the request failed otherwise.
   */
  async listens(
    subject: string,
    data: Uint8Array,
    timeoutMs: number,
  ): Promise<boolean | undefined> {
    try {
      await this.request(subject, { data, timeoutMs });
      return true;
    } catch (err) {
      return isNoResponders(err) ? false : undefined;
    }
  }

  /** Fails the requests whose deadline has come with `TIMEOUT`; returns the next deadline. */
  #expire(now: number): number {
    const expired: string[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const [token, pending] of this.#pending) {
      if (pending.deadline <= now) expired.push(token);
      else if (pending.deadline < next) next = pending.deadline;
    }
    for (const token of expired) {
      const pending = this.#settle(token);
      pending?.reject(
        new SwitchboardError(
          ErrorCode.TIMEOUT,
          `${pending.target}: no reply within ${pending.timeoutMs} ms`,
          { completed: 'maybe' },
        ),
      );
    }
    return this.#pending.size > 0 ? next : Number.POSITIVE_INFINITY;
  }

  /**
   * Fails every request in flight with `UNAVAILABLE` (completion `maybe`: it
   * may have been delivered) because the connection went down: a reply sent
   * while we were away is lost for good. Such failures answer
   * {@link isLinkFailure}.
   */
  failAll(reason: string): void {
    for (const token of [...this.#pending.keys()]) {
      this.#settle(token)?.reject(linkFailure(reason));
    }
  }

  /**
   * Fails the requests in flight to `subject` with `UNAVAILABLE` (completion
   * `maybe`): whoever held them has left (its lease ran out, or its route was
   * withdrawn), so no answer is coming.
   */
  failTo(subject: string, reason: string): void {
    this.failCalls(this.#tokensTo(subject), reason);
  }

  /**
   * Fails the requests in flight to `subject` with `FORBIDDEN` (completion
   * `no`): NATS refused to deliver them, as the credential does not permit
   * publishing there.
   */
  refuse(subject: string, reason: string): void {
    for (const token of this.#tokensTo(subject)) {
      this.#settle(token)?.reject(
        new SwitchboardError(ErrorCode.FORBIDDEN, reason, {
          completed: 'no',
          cause: REFUSED_BY_NATS,
        }),
      );
    }
  }

  #tokensTo(subject: string): string[] {
    const tokens: string[] = [];
    for (const [token, pending] of this.#pending)
      if (pending.subject === subject) tokens.push(token);
    return tokens;
  }

  /** The calls in flight to `subject`, by request token (to probe them, then {@link failCalls}). */
  callsTo(subject: string): Map<string, string> {
    const calls = new Map<string, string>();
    for (const [token, pending] of this.#pending) {
      if (pending.subject === subject && pending.callId !== undefined) {
        calls.set(token, pending.callId);
      }
    }
    return calls;
  }

  /** The subjects of the calls in flight (those that can be probed). */
  subjectsOfCalls(): Set<string> {
    const found = new Set<string>();
    for (const pending of this.#pending.values()) {
      if (pending.callId !== undefined) found.add(pending.subject);
    }
    return found;
  }

  /** Fails, as a link failure, the requests in flight that carry no call (and cannot be probed). */
  failAllButCalls(reason: string): void {
    for (const [token, pending] of [...this.#pending]) {
      if (pending.callId === undefined) this.#settle(token)?.reject(linkFailure(reason));
    }
  }

  /**
   * Fails the requests of `tokens` still in flight with `UNAVAILABLE`
   * (completion `maybe`): they were lost on their way to whoever holds them,
   * or their answers were.
   */
  failCalls(tokens: Iterable<string>, reason: string): void {
    for (const token of tokens) {
      this.#settle(token)?.reject(
        new SwitchboardError(ErrorCode.UNAVAILABLE, reason, { completed: 'maybe' }),
      );
    }
  }

  /** Rejects every pending request with `UNAVAILABLE` and drops the subscription. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Our side went away, not whoever was called: marked as a link failure.
    this.failAll('closed while the call was in flight');
    this.#deadlines.disarm();
    if (!this.#nc.isClosed()) this.#sub.unsubscribe();
  }

  #onReply(msg: Msg): void {
    const token = msg.subject.slice(this.#inbox.length + 1);
    if (token === DONE_TOKEN) return this.#onDone(msg.data);
    // Read before settling: a reply whose headers cannot be read still ends its
    // request (the subscription callback settles it as unreadable).
    const status = headersOf(msg)?.code;
    const pending = this.#settle(token);
    if (!pending) return; // late reply to a request that timed out, or a forged one
    if (status === 503) {
      const err = new SwitchboardError(ErrorCode.UNAVAILABLE, 'no responders', { completed: 'no' });
      NO_RESPONDERS.add(err);
      pending.reject(err);
    } else {
      pending.resolve(msg);
    }
  }

  /**
   * A batch of done notices (see `DoneNotices`): each request listed ends
   * as with an empty reply. Tokens nobody is waiting for are skipped; a
   * token is unguessable, so only whoever was sent a request can end it, as
   * with a reply of its own.
   */
  #onDone(body: Uint8Array): void {
    if (body.length > MAX_DONE_BYTES) return;
    const text = Buffer.from(body.buffer, body.byteOffset, body.length).toString('latin1');
    for (const token of text.split(' ')) this.#settle(token)?.resolve(DONE);
  }

  /**
   * A reply token nobody can guess: a counter for uniqueness and random
   * characters, so that a process that learns one of our reply subjects (a
   * server answering a forwarded call does) cannot answer our other requests.
   */
  #token(): string {
    return `${(++this.#seq).toString(36)}${randomString(ALPHABET, TOKEN_CHARS)}`;
  }

  #settle(token: string): Pending | undefined {
    const pending = this.#pending.get(token);
    if (!pending) return undefined;
    this.#pending.delete(token);
    // Nothing left to time out: the timer may not keep the process alive.
    if (this.#pending.size === 0) this.#deadlines.idle();
    if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
    return pending;
  }
}

const TOKEN_CHARS = 8;
/**
 * Random characters naming a channel's inbox: 72 bits, unique among every
 * channel of a site, and 10 bytes shorter than nats.js's `createInbox`
 * (a 22-character NUID), on every call and every reply.
 */
const INBOX_CHARS = 12;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/** What a reply token is made of: a base-36 counter, then characters of {@link ALPHABET}. */
export const REPLY_TOKEN = /^[A-Za-z0-9_-]+$/;

/** Longest batch of done notices read, in bytes (a sender splits longer ones). */
const MAX_DONE_BYTES = 64 * 1024;

/**
 * What a request listed in a batch of done notices resolves with: an empty
 * reply, without headers. Not frozen: `headersOf` keeps what it read on it.
 */
const DONE = {
  subject: '',
  reply: '',
  sid: 0,
  data: new Uint8Array(0),
  headers: undefined,
  respond: () => false,
} as unknown as Msg;

/** Failures caused by our own connection going down, not by whoever we called. */
const linkFailures = new WeakSet<SwitchboardError>();

function linkFailure(reason: string): SwitchboardError {
  const err = new SwitchboardError(ErrorCode.UNAVAILABLE, reason, { completed: 'maybe' });
  linkFailures.add(err);
  return err;
}

/** Whether `err` is NATS's word that nothing listens on a request's subject. */
export function isNoResponders(err: unknown): boolean {
  return NO_RESPONDERS.has(err as SwitchboardError);
}

/**
 * Whether `err` ended a request because our own connection went down (so the
 * instance called is not to blame, and may be tried again once reconnected).
 */
export function isLinkFailure(err: unknown): boolean {
  return err instanceof SwitchboardError && linkFailures.has(err);
}

function cancelled(target: string | undefined, completed: 'no' | 'maybe'): SwitchboardError {
  return new SwitchboardError(ErrorCode.CANCELLED, `${target ?? 'call'}: cancelled by the caller`, {
    completed,
  });
}

/** Maps a synchronous publish failure of nats.js to our error. */
export function publishError(err: unknown, target: string): SwitchboardError {
  const code = (err as { code?: string }).code;
  if (code === 'MAX_PAYLOAD_EXCEEDED') {
    return new SwitchboardError(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `${target}: message exceeds the NATS server's max_payload`,
      { completed: 'no', cause: err },
    );
  }
  return new SwitchboardError(
    ErrorCode.UNAVAILABLE,
    `${target}: cannot publish: ${(err as Error).message}`,
    { completed: 'no', cause: err },
  );
}
