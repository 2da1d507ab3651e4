import type { NatsConnection } from 'nats';
import { DONE_TOKEN, INBOX_PREFIX } from '../protocol/index.js';

/** Longest body of one batch of done notices, in characters (any max_payload holds it). */
const MAX_BATCH_CHARS = 2048;

/**
 * The done notices of forwarded calls that carried `sb-done`, gathered for
 * one turn of the event loop and sent as one message per broker inbox: the
 * reply tokens of the calls that ended, separated by spaces, to
 * `<inbox>.~done`. A forwarding broker hears one message per batch instead
 * of one empty reply per call.
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
   * Takes the done notice of the call whose reply subject is `reply`, when
   * it can go in a batch: a reply subject under `_INBOX.` with an inbox and
   * a token. False otherwise: the caller answers it alone, as before.
   */
  add(reply: string): boolean {
    const dot = reply.lastIndexOf('.');
    if (dot <= INBOX_PREFIX.length || !reply.startsWith(INBOX_PREFIX)) return false;
    const inbox = reply.slice(0, dot);
    const tokens = this.#byInbox.get(inbox);
    if (tokens) tokens.push(reply.slice(dot + 1));
    else this.#byInbox.set(inbox, [reply.slice(dot + 1)]);
    if (!this.#scheduled) {
      this.#scheduled = true;
      // After the answers already written this turn, and before a probe's answer.
      setImmediate(() => this.#flush());
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
          this.#nc.publish(`${inbox}.${DONE_TOKEN}`, body);
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
