import type { NatsConnection } from 'nats';
import { DONE_TOKEN, INBOX_PREFIX, isPublishSubject } from '../protocol/index.js';
import { publishFrame } from './frames.js';
import { REPLY_TOKEN } from './request-channel.js';

/** Longest body of one batch of done notices, in characters (any max_payload holds it). */
const MAX_BATCH_CHARS = 2048;

/**
 * The done notices of forwarded calls that carried `sb-done`, gathered
 * until the microtasks queued meanwhile have run (the calls answered while
 * one read from the socket is handled, typically) and sent as one message
 * per broker inbox: the reply tokens of the calls that ended, separated by
 * spaces, to `<inbox>.~done`. A forwarding broker hears one message per
 * batch instead of one empty reply per call. Sent before anything the
 * process does on a later turn (a probe's answer) and before a close that
 * follows the answers (nats.js writes what was published before closing).
 */
export class DoneNotices {
  readonly #nc: NatsConnection;
  /** Reply tokens that ended this turn, by the inbox they go to. */
  readonly #byInbox = new Map<string, string[]>();
  #scheduled = false;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  /**
   * Takes the done notice of the call whose reply subject is `reply` (from
   * the network: checked), when it can go in a batch: a subject one may
   * publish to, under `_INBOX.`, ending in an inbox and a token of the
   * characters reply tokens are made of. False otherwise: the caller sends
   * the empty reply, as before.
   */
  add(reply: string): boolean {
    const dot = reply.lastIndexOf('.');
    if (dot <= INBOX_PREFIX.length || !reply.startsWith(INBOX_PREFIX)) return false;
    const token = reply.slice(dot + 1);
    if (!REPLY_TOKEN.test(token) || !isPublishSubject(reply)) return false;
    const inbox = reply.slice(0, dot);
    const tokens = this.#byInbox.get(inbox);
    if (tokens) tokens.push(token);
    else this.#byInbox.set(inbox, [token]);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return true;
  }

  #flush(): void {
    this.#scheduled = false;
    const batches = [...this.#byInbox];
    this.#byInbox.clear();
    if (this.#nc.isClosed()) return;
    for (const [inbox, tokens] of batches) {
      for (const body of batchBodies(tokens)) {
        try {
          publishFrame(this.#nc, `${inbox}.${DONE_TOKEN}`, body);
        } catch {
          // The broker times the calls out instead, as when an empty notice is lost.
        }
      }
    }
  }
}

/** `tokens` separated by spaces, in bodies of at most {@link MAX_BATCH_CHARS}. */
function batchBodies(tokens: readonly string[]): Buffer[] {
  const bodies: Buffer[] = [];
  let text = '';
  for (const token of tokens) {
    if (text.length > 0 && text.length + 1 + token.length > MAX_BATCH_CHARS) {
      bodies.push(Buffer.from(text));
      text = '';
    }
    text = text.length > 0 ? `${text} ${token}` : token;
  }
  if (text.length > 0) bodies.push(Buffer.from(text));
  return bodies;
}

const gatherers = new WeakMap<NatsConnection, DoneNotices>();

/** The done notices gathered on `nc` (one gatherer per connection). */
export function doneNotices(nc: NatsConnection): DoneNotices {
  let notices = gatherers.get(nc);
  if (!notices) {
    notices = new DoneNotices(nc);
    gatherers.set(nc, notices);
  }
  return notices;
}
