/**
 * Routing metadata of calls, carried in NATS headers so that relays (brokers
 * forwarding for thin clients, bridges) route without decoding the body.
 */
import type { MsgHdrs } from 'nats';
import { checkMeta, isTraceparent, readTracestate } from './call-context-headers.js';
import { describeRange, describeValue, MAX_PATH_SITES, PROTOCOL_VERSION } from './envelopes.js';
import { ErrorCode, SwitchboardError } from './errors.js';
import { isBudget, isCallId, isName } from './name-checks.js';
import { parseRange } from './semver.js';
import { INBOX_PREFIX, isPublishSubject } from './subjects.js';

/** Header names. */
export const Header = {
  /**
   * The routing metadata of a call, in one header (one header is much cheaper
   * to write and read than one per field):
   * `VERSION;CALL_ID;SERVICE;METHOD;BUDGET_MS;PATH;SITE;RANGE`, where PATH is
   * the comma-separated sites crossed (origin first), SITE the site the call
   * heads for and RANGE the version range asked for; the last three may be empty.
   */
  call: 'sb-call',
  /**
   * Set by a forwarding broker: the subject the answer goes to (the caller's),
   * while the message's own reply subject (the broker's) only gets an empty
   * notice that the call ended. The broker thus learns of completions and of
   * dead instances without standing in the reply path.
   */
  replyTo: 'sb-reply',
  /**
   * Set (to `1`) by a forwarding broker beside `sb-reply`: the broker also
   * takes the notice that the call ended in a batch, one message for the
   * calls that ended together, to its reply inbox's {@link DONE_TOKEN}
   * subject (see docs/protocol.md, "Forwarded calls").
   */
  done: 'sb-done',
  /** Set on a cancel notice: the caller gave up on the call; it has no body and wants no reply. */
  cancel: 'sb-cancel',
  /**
   * Set on a probe: the caller asks which of the calls it lists in the body
   * (a {@link ProbeRequest}) the instance or route still holds.
   */
  probe: 'sb-probe',
  /** On replies: `err` marks an error body. A reply without headers is a result. */
  status: 'sb-st',
  /** W3C trace context: the trace and the span the call belongs to. */
  traceparent: 'traceparent',
  /** W3C trace context: vendors' trace state, passed on as it is. */
  tracestate: 'tracestate',
  /** The caller's metadata (see `encodeMeta`), passed on by every hop. */
  meta: 'sb-meta',
} as const;

/** Value of the status header on error replies. */
export const STATUS_ERROR = 'err';

/** Routing metadata of one call. */
export interface CallMeta {
  /** Call id, unique per caller; for logs, tracing and cancel notices. */
  callId: string;
  service: string;
  method: string;
  /** Remaining budget in milliseconds at the moment the message is sent. */
  budgetMs: number;
  /** Sites crossed so far, origin first. */
  path: string[];
  /** Version range the caller asked for. */
  versionRange?: string | undefined;
  /** Site the call heads for (pinned by the caller, or the hosting site of the route it took). */
  site?: string | undefined;
  /** W3C `traceparent` of the call, when it is traced. */
  traceparent?: string | undefined;
  /** W3C `tracestate`, passed on untouched. */
  tracestate?: string | undefined;
  /** The caller's metadata, encoded (the `sb-meta` header value; see `encodeMeta`). */
  meta?: string | undefined;
}

/** Separates the fields of `sb-call` (written out in {@link formatCallMeta}). */
const SEPARATOR = ';';
const FIELDS = 8;

/** The value of the `sb-call` header for `meta`. */
export function formatCallMeta(meta: CallMeta): string {
  const budget = meta.budgetMs > 0 ? Math.floor(meta.budgetMs) : 0;
  const path = meta.path.length === 1 ? meta.path[0] : meta.path.join(',');
  return `${PROTOCOL_VERSION};${meta.callId};${meta.service};${meta.method};${budget};${path};${meta.site ?? ''};${meta.versionRange ?? ''}`;
}

/** Reading headers: nats.js's `MsgHdrs` can, and so can a {@link HeaderBlock}. */
export interface HeaderReader {
  /** The value of a header, or `''` when it is absent. */
  get(name: string): string;
  /** Status code of the block's first line (`NATS/1.0 503`); 0 when none. */
  readonly code: number;
}

/**
 * Headers built by hand for sending. nats.js's `publish()` needs nothing of
 * its `MsgHdrs` but `encode()`, and building the block directly costs a
 * quarter of what `MsgHdrs` does (key canonicalisation, checks, a Map).
 * Names are ours and fixed; values must not contain CR or LF (ours never do).
 */
export class HeaderBlock implements HeaderReader {
  readonly #entries: Array<[string, string]>;
  /** Status code of a received block's first line (`NATS/1.0 503`); 0 when none. */
  readonly code: number;

  constructor(entries: Array<[string, string]>, code = 0) {
    this.#entries = entries;
    this.code = code;
  }

  get(name: string): string {
    for (const [k, v] of this.#entries) if (k === name) return v;
    return '';
  }

  has(name: string): boolean {
    return this.#entries.some(([k]) => k === name);
  }

  keys(): string[] {
    return this.#entries.map(([k]) => k);
  }

  /** The wire form as text: `NATS/1.0`, one `name: value` line each, a blank line. */
  text(): string {
    let text = 'NATS/1.0\r\n';
    for (const [k, v] of this.#entries) text += `${k}: ${v}\r\n`;
    return `${text}\r\n`;
  }

  /** The wire form ({@link text}) as bytes. */
  encode(): Uint8Array {
    return Buffer.from(this.text());
  }

  /** This block typed as nats.js wants it in publish options. */
  forNats(): MsgHdrs {
    return this as unknown as MsgHdrs;
  }
}

/** Builds the headers of a call request (plus `extra` entries, e.g. `sb-reply`). */
export function callHeaders(meta: CallMeta, ...extra: Array<[string, string]>): HeaderBlock {
  const entries: Array<[string, string]> = [[Header.call, formatCallMeta(meta)], ...extra];
  if (meta.traceparent !== undefined) {
    entries.push([Header.traceparent, meta.traceparent]);
    if (meta.tracestate !== undefined) entries.push([Header.tracestate, meta.tracestate]);
  }
  if (meta.meta !== undefined && meta.meta !== '') entries.push([Header.meta, meta.meta]);
  return new HeaderBlock(entries);
}

function bad(message: string): SwitchboardError {
  return SwitchboardError.refusal(ErrorCode.BAD_REQUEST, message, { completed: 'no' });
}

/**
 * The longest budget a call may carry: one day. Longer ones are cut to it
 * (timers cannot count further than about 24.8 days, and a call that takes a
 * day is not a call).
 */
export const MAX_BUDGET_MS = 86_400_000;

/** One site name of the PATH or SITE field. */
function siteName(text: string, field: string): string {
  if (!isName(text)) {
    throw bad(`${Header.call} header: ${field} ${describeValue(text)} is not a site name`);
  }
  return text;
}

/** Reads and checks the routing metadata of a call request; throws `BAD_REQUEST`. */
export function readCallMeta(h: HeaderReader | undefined): CallMeta {
  if (!h) throw bad('call has no headers');
  const value = h.get(Header.call);
  if (value === '') throw bad(`call has no ${Header.call} header`);
  // Fields are cut out one by one (this runs for every call at every hop:
  // cheaper than split() and its array).
  let end = value.indexOf(SEPARATOR);
  const version = end < 0 ? value : value.slice(0, end);
  if (version !== VERSION_FIELD) {
    throw bad(
      `unsupported protocol version ${describeValue(version)} (expected ${PROTOCOL_VERSION})`,
    );
  }
  const fields = FIELD_SCRATCH;
  let count = 1;
  while (end >= 0 && count < FIELDS) {
    const start = end + 1;
    end = value.indexOf(SEPARATOR, start);
    fields[count++] = end < 0 ? value.slice(start) : value.slice(start, end);
  }
  if (count !== FIELDS || end >= 0) {
    throw bad(`${Header.call} header must have ${FIELDS} fields separated by '${SEPARATOR}'`);
  }
  const callId = fields[1]!;
  const service = fields[2]!;
  const method = fields[3]!;
  const budgetText = fields[4]!;
  const pathText = fields[5]!;
  const site = fields[6]!;
  const range = fields[7]!;
  if (!isCallId(callId)) {
    throw bad(`${Header.call} header: call id ${describeValue(callId)} is not valid`);
  }
  if (!isName(service)) {
    throw bad(`${Header.call} header: service ${describeValue(service)} is not a valid name`);
  }
  if (!isName(method)) {
    throw bad(`${Header.call} header: method ${describeValue(method)} is not a valid name`);
  }
  if (!isBudget(budgetText)) {
    throw bad(
      `${Header.call} header: budget must be whole milliseconds (got ${describeValue(budgetText)})`,
    );
  }
  const path = readPath(pathText);
  const meta: CallMeta = {
    callId,
    service,
    method,
    budgetMs: Math.min(Number(budgetText), MAX_BUDGET_MS),
    path,
  };
  if (site !== '') meta.site = siteName(site, 'site');
  if (range !== '') {
    if (parseRange(range) === undefined) {
      throw bad(`${Header.call} header: version range ${describeRange(range)} is not valid`);
    }
    meta.versionRange = range;
  }
  // Trace context that is not valid is dropped, as the W3C rules say; metadata must be valid.
  const traceparent = h.get(Header.traceparent);
  if (traceparent !== '' && isTraceparent(traceparent)) {
    meta.traceparent = traceparent;
    const tracestate = readTracestate(h.get(Header.tracestate));
    if (tracestate !== undefined) meta.tracestate = tracestate;
  }
  const userMeta = h.get(Header.meta);
  if (userMeta !== '') meta.meta = checkMeta(userMeta);
  return meta;
}

const VERSION_FIELD = String(PROTOCOL_VERSION);
/** Where {@link readCallMeta} cuts fields to (it never keeps the array, nor re-enters). */
const FIELD_SCRATCH: string[] = new Array<string>(FIELDS).fill('');

/** The PATH field: sites separated by `,`, origin first; may be empty. */
function readPath(text: string): string[] {
  if (text === '') return [];
  if (text.indexOf(',') < 0) return [siteName(text, 'path entry')];
  const path = text.split(',');
  if (path.length > MAX_PATH_SITES) {
    throw bad(
      `${Header.call} header: the path crosses ${path.length} sites, over ${MAX_PATH_SITES}`,
    );
  }
  for (const p of path) siteName(p, 'path entry');
  return path;
}

/**
 * The subject the answer of a forwarded call goes to (`sb-reply`), when the
 * call has one. It must be one inbox subject: a server answers there with its
 * own credentials, so a caller must not make it publish anywhere else.
 */
export function readReplyTo(h: HeaderReader | undefined): string | undefined {
  const value = h?.get(Header.replyTo) ?? '';
  if (value === '') return undefined;
  if (!value.startsWith(INBOX_PREFIX) || !isPublishSubject(value)) {
    throw bad(`${Header.replyTo} header ${describeValue(value)} is not an inbox subject`);
  }
  return value;
}

/** Whether a message on an instance subject is a cancel notice rather than a call. */
export function isCancelNotice(h: HeaderReader | undefined): boolean {
  return h !== undefined && h.get(Header.cancel) !== '';
}

/** Headers of the cancel notice for a call. */
export function cancelHeaders(meta: CallMeta): HeaderBlock {
  return callHeaders({ ...meta, budgetMs: 0 }, [Header.cancel, '1']);
}

/** Whether a message on an instance's or a route's subject is a probe. */
export function isProbe(h: HeaderReader | undefined): boolean {
  return h !== undefined && h.get(Header.probe) !== '';
}

const PROBE = new HeaderBlock([[Header.probe, '1']]);

/** Headers of a probe. */
export function probeHeaders(): HeaderBlock {
  return PROBE;
}

const ERROR_REPLY = new HeaderBlock([[Header.status, STATUS_ERROR]]);

/** Headers of an error reply. */
export function errorReplyHeaders(): HeaderBlock {
  return ERROR_REPLY;
}

/** A received header block, parsed: its headers and the status code of its first line. */
export interface ParsedHeaders extends HeaderReader {
  /** Status code of the `NATS/1.0 503 ...` line; 0 when there is none. */
  readonly code: number;
}

/**
 * Parses the first `length` bytes of a received message: a header block
 * (`NATS/1.0[ code text]`, then `name: value` lines). The first value of a
 * name wins. Our header values are ASCII, so the block is read as latin1.
 */
export function parseHeaderBlock(bytes: Uint8Array, length = bytes.byteLength): ParsedHeaders {
  const text = Buffer.isBuffer(bytes)
    ? bytes.toString('latin1', 0, length)
    : Buffer.from(bytes.buffer, bytes.byteOffset, length).toString('latin1');
  const entries: Array<[string, string]> = [];
  let start = text.indexOf('\r\n');
  const status = start < 0 ? text : text.slice(0, start);
  // The next `:` is looked for again only once a line has passed it, so that
  // a block of many lines without one (a hostile peer's) is read in one pass.
  let colon = -2;
  while (start >= 0) {
    const lineStart = start + 2;
    if (colon < lineStart) colon = text.indexOf(':', lineStart);
    if (colon < 0) break;
    let lineEnd = text.indexOf('\r\n', lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    if (colon > lineStart && colon < lineEnd) {
      entries.push([headerName(text.slice(lineStart, colon)), trimmed(text, colon + 1, lineEnd)]);
    }
    start = lineEnd < text.length ? lineEnd : -1;
  }
  const code = Number.parseInt(status.slice(9, 12), 10);
  return new HeaderBlock(entries, Number.isNaN(code) ? 0 : code);
}

/** A header name as matched: trimmed, in lower case (ours are written so, and then cost nothing). */
function headerName(raw: string): string {
  return raw.trim().toLowerCase();
}

/** `text` from `start` to `end` without the whitespace `trim()` removes, cut once. */
function trimmed(text: string, start: number, end: number): string {
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/** Whitespace as `trim()` sees it, among latin1 characters. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}

/** Whether a reply carries an error body. */
export function isErrorReply(h: HeaderReader | undefined): boolean {
  return h !== undefined && h.get(Header.status) === STATUS_ERROR;
}
