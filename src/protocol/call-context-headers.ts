/**
 * What travels with a call besides its routing: W3C trace context
 * (`traceparent`, `tracestate`, https://www.w3.org/TR/trace-context/) and the
 * caller's metadata (`sb-meta`). Relays pass both on as they are; values are
 * checked when read so that nothing a peer sends can break a header further on.
 */
import { ErrorCode, SwitchboardError } from './errors.js';

/** `00-<trace id>-<parent id>-<flags>`, lower-case hex, ids not all zero. */
const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Longest `tracestate` passed on (the W3C limit is 512 characters). */
const MAX_TRACESTATE = 512;

/** Metadata keys: letters, digits, `_`, `-` and `.`, up to 64 characters. */
export const META_KEY_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Limits of a call's metadata: entries, and characters of the encoded header. */
export const META_LIMITS = Object.freeze({ entries: 32, bytes: 4096 });

/** Whether `value` is a valid W3C `traceparent` (version 00). */
export function isTraceparent(value: string): boolean {
  return TRACEPARENT.test(value);
}

/**
 * A received `tracestate`, when it may be passed on: printable ASCII within
 * the W3C length limit. Anything else is dropped (as the W3C rules say).
 */
export function readTracestate(value: string): string | undefined {
  if (value === '' || value.length > MAX_TRACESTATE) return undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return undefined;
  }
  return value;
}

function bad(message: string): SwitchboardError {
  return SwitchboardError.refusal(ErrorCode.BAD_REQUEST, message, { completed: 'no' });
}

/**
 * Encodes metadata as the `sb-meta` header value: `key=value` pairs joined
 * by `,`, values percent-encoded. Throws `BAD_REQUEST` (completion `no`)
 * for a key that is not valid or past the limits.
 */
export function encodeMeta(meta: Readonly<Record<string, string>>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(meta)) {
    if (!META_KEY_PATTERN.test(key)) throw bad(`metadata key '${key.slice(0, 64)}' is not valid`);
    if (typeof value !== 'string') throw bad(`metadata '${key}' must be a string`);
    parts.push(`${key}=${encodeURIComponent(value)}`);
  }
  if (parts.length > META_LIMITS.entries) {
    throw bad(`metadata has ${parts.length} entries, over the limit of ${META_LIMITS.entries}`);
  }
  const text = parts.join(',');
  if (text.length > META_LIMITS.bytes) {
    throw bad(`metadata takes ${text.length} bytes, over the limit of ${META_LIMITS.bytes}`);
  }
  return text;
}

/** Decodes an `sb-meta` header value; throws `BAD_REQUEST` when it is malformed or too large. */
export function decodeMeta(text: string): Record<string, string> {
  const meta: Record<string, string> = Object.create(null);
  if (text === '') return meta;
  if (text.length > META_LIMITS.bytes) {
    throw bad(`sb-meta header takes ${text.length} bytes, over the limit of ${META_LIMITS.bytes}`);
  }
  const parts = text.split(',');
  if (parts.length > META_LIMITS.entries) {
    throw bad(
      `sb-meta header has ${parts.length} entries, over the limit of ${META_LIMITS.entries}`,
    );
  }
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!META_KEY_PATTERN.test(key))
      throw bad(`sb-meta header: key '${key.slice(0, 64)}' is not valid`);
    try {
      meta[key] = decodeURIComponent(eq < 0 ? '' : part.slice(eq + 1));
    } catch {
      throw bad(`sb-meta header: the value of '${key}' is not percent-encoded`);
    }
  }
  return meta;
}

/** Checks a received `sb-meta` value without keeping what it decodes to. */
export function checkMeta(text: string): string {
  decodeMeta(text);
  return text;
}
