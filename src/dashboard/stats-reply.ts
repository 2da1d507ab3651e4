/**
 * The door for `$SRV.STATS` replies. Anything on the site's NATS may answer
 * them, so each reply is checked here, once: a reply that is not a stats
 * response of the expected shape is dropped whole, strings are cut to a
 * length a page can show, and the maps in `data` are bounded.
 */
import { BRIDGE_SERVICE_NAME } from '../bridge/index.js';
import { NAME_PATTERN } from '../protocol/index.js';

/** What `data` of a Switchboard endpoint says (see `EndpointStatsData`), checked. */
export interface CheckedStatsData {
  errorsByCode: Map<string, number>;
  callsByPath: Map<string, number>;
  lastErrorCode: string | undefined;
  lastErrorSite: string | undefined;
  lastErrorPath: string | undefined;
}

/** One endpoint of a stats reply. */
export interface EndpointCounts {
  name: string;
  requests: number;
  errors: number;
  lastError: string;
  /** Undefined when the endpoint gave no Switchboard `data` (another implementation). */
  data: CheckedStatsData | undefined;
}

/** A bridge half attached to the observed site, as it describes itself. */
export interface BridgePresence {
  /** The site it is attached to. */
  site: string;
  /** The site at the other end. */
  peer: string;
  /** Whether the other half is connected to its site. */
  peerConnected: boolean;
}

/** One `$SRV.STATS` reply: one instance or route, or a bridge half. */
export interface StatsReply {
  service: string;
  id: string;
  endpoints: EndpointCounts[];
  /** Set when the reply is a bridge half's (see `BRIDGE_SERVICE_NAME`). */
  bridge?: BridgePresence;
}

/** The code counted when an endpoint does not say (or garbles) which code an error had. */
export const UNKNOWN_CODE = '?';
/** What an error code looks like (`APPLICATION`, `UNAVAILABLE`...). */
const CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Longest error message kept, in characters. */
export const MAX_MESSAGE_CHARS = 500;
const MAX_NAME_CHARS = 256;
const MAX_ENDPOINTS = 256;
const MAX_MAP_ENTRIES = 64;

/** The reply `json` (parsed JSON), or undefined when it is not a stats response. */
export function checkStatsReply(json: unknown): StatsReply | undefined {
  if (!isObject(json) || json.type !== 'io.nats.micro.v1.stats_response') return undefined;
  const service = short(json.name);
  const id = short(json.id);
  if (service === undefined || id === undefined || !Array.isArray(json.endpoints)) return undefined;
  const endpoints: EndpointCounts[] = [];
  for (const raw of json.endpoints.slice(0, MAX_ENDPOINTS)) {
    const endpoint = checkEndpoint(raw);
    if (endpoint) endpoints.push(endpoint);
  }
  const bridge = service === BRIDGE_SERVICE_NAME ? checkBridge(json.metadata) : undefined;
  return bridge ? { service, id, endpoints, bridge } : { service, id, endpoints };
}

function checkBridge(metadata: unknown): BridgePresence | undefined {
  if (!isObject(metadata) || metadata.kind !== 'bridge') return undefined;
  const { site, peer } = metadata;
  if (typeof site !== 'string' || !NAME_PATTERN.test(site)) return undefined;
  if (typeof peer !== 'string' || !NAME_PATTERN.test(peer) || peer === site) return undefined;
  return { site, peer, peerConnected: metadata.peer_connected === 'true' };
}

function checkEndpoint(raw: unknown): EndpointCounts | undefined {
  if (!isObject(raw)) return undefined;
  const name = short(raw.name);
  const requests = count(raw.num_requests);
  const errors = count(raw.num_errors);
  if (name === undefined || requests === undefined || errors === undefined) return undefined;
  const lastError = typeof raw.last_error === 'string' ? cut(raw.last_error) : '';
  return { name, requests, errors, lastError, data: checkData(raw.data) };
}

function checkData(raw: unknown): CheckedStatsData | undefined {
  if (!isObject(raw)) return undefined;
  const byCode = counts(raw.errors_by_code);
  const callsByPath = counts(raw.calls_by_path);
  if (!byCode || !callsByPath) return undefined;
  // Codes become keys of what the page is sent: only those that look like codes.
  const errorsByCode = new Map<string, number>();
  for (const [code, n] of byCode) {
    const key = CODE_PATTERN.test(code) ? code : UNKNOWN_CODE;
    errorsByCode.set(key, (errorsByCode.get(key) ?? 0) + n);
  }
  const lastErrorCode = short(raw.last_error_code);
  return {
    errorsByCode,
    callsByPath,
    lastErrorCode: lastErrorCode && CODE_PATTERN.test(lastErrorCode) ? lastErrorCode : undefined,
    lastErrorSite: short(raw.last_error_site),
    lastErrorPath: short(raw.last_error_path),
  };
}

function counts(raw: unknown): Map<string, number> | undefined {
  if (!isObject(raw)) return undefined;
  const map = new Map<string, number>();
  for (const [key, value] of Object.entries(raw).slice(0, MAX_MAP_ENTRIES)) {
    const n = count(value);
    if (n !== undefined && key.length <= MAX_NAME_CHARS) map.set(key, n);
  }
  return map;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function short(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= MAX_NAME_CHARS ? value : undefined;
}

function cut(text: string): string {
  return text.length <= MAX_MESSAGE_CHARS ? text : `${text.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
}
