/**
 * Routing metadata of calls, carried in NATS headers so that relays (brokers
 * forwarding for thin clients, bridges) route without decoding the body.
 */
import { type MsgHdrs, headers as natsHeaders } from 'nats';
import { PROTOCOL_VERSION } from './envelopes.js';
import { ErrorCode, SwitchboardError } from './errors.js';

/** Header names. */
export const Header = {
  /** Protocol version of the call. */
  version: 'sb-v',
  /** Call id, unique per caller; for logs and tracing. */
  callId: 'sb-id',
  service: 'sb-svc',
  method: 'sb-m',
  /** Version range the caller asked for, when it asked for one. */
  versionRange: 'sb-ver',
  /** Remaining deadline budget in milliseconds when the message was sent. */
  budget: 'sb-dl',
  /** Sites the call crossed, comma-separated, origin first. */
  path: 'sb-path',
  /** Site the caller pinned the call to, when it did. */
  site: 'sb-site',
  /**
   * Set by a forwarding broker: the subject the answer goes to (the caller's),
   * while the message's own reply subject (the broker's) only gets an empty
   * notice that the call ended. The broker thus learns of completions and of
   * dead instances without standing in the reply path.
   */
  replyTo: 'sb-reply',
  /** Set on a cancel notice: the caller gave up on call `sb-id`; it has no body and wants no reply. */
  cancel: 'sb-cancel',
  /** On replies: `err` marks an error body. A reply without headers is a result. */
  status: 'sb-st',
} as const;

/** Value of the status header on error replies. */
export const STATUS_ERROR = 'err';

/** Routing metadata of one call. */
export interface CallMeta {
  callId: string;
  service: string;
  method: string;
  /** Remaining budget in milliseconds at the moment the message is sent. */
  budgetMs: number;
  /** Sites crossed so far, origin first. */
  path: string[];
  versionRange?: string | undefined;
  /** Site the caller pinned. */
  site?: string | undefined;
}

/** Builds the headers of a call request. */
export function callHeaders(meta: CallMeta): MsgHdrs {
  const h = natsHeaders();
  h.set(Header.version, String(PROTOCOL_VERSION));
  h.set(Header.callId, meta.callId);
  h.set(Header.service, meta.service);
  h.set(Header.method, meta.method);
  h.set(Header.budget, String(Math.max(0, Math.floor(meta.budgetMs))));
  if (meta.path.length > 0) h.set(Header.path, meta.path.join(','));
  if (meta.versionRange !== undefined) h.set(Header.versionRange, meta.versionRange);
  if (meta.site !== undefined) h.set(Header.site, meta.site);
  return h;
}

function bad(message: string): SwitchboardError {
  return new SwitchboardError(ErrorCode.BAD_REQUEST, message, { completed: 'no' });
}

/** Reads and checks the routing metadata of a call request; throws `BAD_REQUEST`. */
export function readCallMeta(h: MsgHdrs | undefined): CallMeta {
  if (!h) throw bad('call has no headers');
  const version = h.get(Header.version);
  if (version !== String(PROTOCOL_VERSION)) {
    throw bad(
      version === ''
        ? `call has no ${Header.version} header`
        : `unsupported protocol version ${version} (expected ${PROTOCOL_VERSION})`,
    );
  }
  const service = h.get(Header.service);
  const method = h.get(Header.method);
  if (service === '') throw bad(`call has no ${Header.service} header`);
  if (method === '') throw bad(`call has no ${Header.method} header`);
  const budgetText = h.get(Header.budget);
  const budgetMs = Number(budgetText);
  if (budgetText === '' || !Number.isFinite(budgetMs) || budgetMs < 0) {
    throw bad(`call has no valid ${Header.budget} header`);
  }
  const pathText = h.get(Header.path);
  const meta: CallMeta = {
    callId: h.get(Header.callId),
    service,
    method,
    budgetMs,
    path: pathText === '' ? [] : pathText.split(','),
  };
  const range = h.get(Header.versionRange);
  if (range !== '') meta.versionRange = range;
  const site = h.get(Header.site);
  if (site !== '') meta.site = site;
  return meta;
}

/** Whether a message on an instance subject is a cancel notice rather than a call. */
export function isCancelNotice(h: MsgHdrs | undefined): boolean {
  return h !== undefined && h.get(Header.cancel) !== '';
}

/** Headers of the cancel notice for a call. */
export function cancelHeaders(meta: CallMeta): MsgHdrs {
  const h = callHeaders({ ...meta, budgetMs: 0 });
  h.set(Header.cancel, '1');
  return h;
}

/** Headers of an error reply. */
export function errorReplyHeaders(): MsgHdrs {
  const h = natsHeaders();
  h.set(Header.status, STATUS_ERROR);
  return h;
}

/** Whether a reply carries an error body. */
export function isErrorReply(h: MsgHdrs | undefined): boolean {
  return h !== undefined && h.get(Header.status) === STATUS_ERROR;
}
