/**
 * Frames for the wire fuzzer: random bytes, mutated valid envelopes, wrong
 * types, huge and deep values, and call headers bent every way a peer could
 * bend them. Deterministic for a seed, so a failure can be replayed.
 */
import { encode } from '@msgpack/msgpack';

/** A seeded pseudo-random source (mulberry32). */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
}

/** Where a frame goes and what kind of message that subject takes. */
export interface Target {
  subject: string;
  kind:
    | 'register'
    | 'routeRegister'
    | 'claim'
    | 'lookup'
    | 'list'
    | 'info'
    | 'call'
    | 'control'
    | 'registryEvent'
    | 'brokerEvent';
}

/** One frame: a subject, an optional raw header block, a body. */
export interface Frame {
  subject: string;
  headers?: Buffer;
  body: Uint8Array;
}

const SECRET = 'fuzzer-secret-0123456789';

/** A well-formed body for each kind of subject (calls take their arguments). */
function template(kind: Target['kind'], r: Random): Record<string, unknown> | unknown[] {
  const instance = {
    id: `fz${r.int(1e6)}`,
    service: 'calculator',
    version: '1.0.0',
    methods: ['add'],
    metadata: {},
    // Short leases: what the fuzzer registers by chance leaves soon.
    heartbeatMs: 50,
    secret: SECRET,
  };
  switch (kind) {
    case 'register':
      return { v: 1, instance };
    case 'routeRegister':
      return { v: 1, instance: { ...instance, route: { site: 'z', path: ['z'] } } };
    case 'claim':
      return r.int(4)
        ? { v: 1, id: instance.id, secret: SECRET }
        : { v: 1, id: instance.id, secret: SECRET, resumed: true };
    case 'lookup':
      return { v: 1, service: 'calculator', version: '^1.0.0' };
    case 'list':
      return r.int(2) ? { v: 1 } : { v: 1, after: 'calculator|1.0.0|x' };
    case 'info':
      return { v: 1 };
    case 'call':
      return [r.int(100), r.int(100)];
    case 'control':
      return { v: 1, kind: 'reregister' };
    case 'registryEvent':
      return {
        v: 1,
        kind: r.pick(['down', 'up', 'resumed']),
        service: 'calculator',
        id: instance.id,
        site: 'a',
      };
    case 'brokerEvent':
      return { v: 1, kind: 'stopping', site: 'a', brokerId: 'fz' };
  }
}

/** A value of a random type, sometimes huge or deep. */
function wrongValue(r: Random): unknown {
  switch (r.int(14)) {
    case 0:
      return null;
    case 1:
      return r.int(2) === 1;
    case 2:
      return -r.int(1e9);
    case 3:
      return r.pick([Number.NaN, Number.POSITIVE_INFINITY, 1e308, -0, 2 ** 53 + 1]);
    case 4:
      return 'x'.repeat(r.int(20_000));
    case 5:
      return r.bytes(r.int(64));
    case 6:
      return { toString: 1, valueOf: 'x', __proto__: 1 };
    case 7: {
      // Deep nesting: a decoder that recurses must not fall over.
      let deep: unknown = 1;
      for (let i = 0, n = 500 + r.int(5000); i < n; i++) deep = [deep];
      return deep;
    }
    case 8:
      return Array.from({ length: r.int(2000) }, () => r.int(10));
    case 9:
      return BigInt(r.int(1e9)) * 10n ** 12n;
    case 10:
      return new Map([[r.int(10), 'numeric key']]);
    case 11:
      return 'sb.broker.register.x y';
    case 12:
      return '\r\n\0é';
    default:
      return Object.fromEntries(Array.from({ length: r.int(50) }, (_, i) => [`k${i}`, i]));
  }
}

function mutate(value: Record<string, unknown> | unknown[], r: Random): unknown {
  if (Array.isArray(value)) return r.int(2) ? wrongValue(r) : [...value, wrongValue(r)];
  const copy: Record<string, unknown> = { ...value };
  const keys = Object.keys(copy);
  const key = r.pick(keys);
  const inner = copy[key];
  if (inner && typeof inner === 'object' && !Array.isArray(inner) && r.int(2)) {
    copy[key] = mutate(inner as Record<string, unknown>, r);
  } else if (r.int(4) === 0) {
    delete copy[key];
  } else {
    copy[key] = wrongValue(r);
  }
  return copy;
}

/** Encodes whatever msgpack can; what it cannot becomes random bytes. */
function encodeAnything(value: unknown, r: Random): Uint8Array {
  try {
    return encode(value, { useBigInt64: true });
  } catch {
    return r.bytes(r.int(64));
  }
}

const NASTY_BUDGETS = ['', '-1', 'NaN', 'Infinity', '1.5', '1e12', '99999999999999999999', ' 5'];

/** An `sb-call` value: valid, or bent in one way. */
function callHeaderValue(service: string, r: Random): string {
  const method = r.pick(['add', 'divide', 'nope', 'm'.repeat(200), 'a.b', '']);
  let budget = String(r.int(3000));
  let path = r.pick(['', 'a', 'a,b', 'b']);
  let site = r.pick(['', 'a', 'b', 'z']);
  let range = r.pick(['', '^1.0.0', 'banana', '>= 1.0.0']);
  let callId = `fz-${r.int(1e6)}`;
  switch (r.int(8)) {
    case 0:
      budget = r.pick(NASTY_BUDGETS);
      break;
    case 1:
      path = Array.from({ length: 10_000 }, (_, i) => `s${i}`).join(',');
      break;
    case 2:
      callId = 'x'.repeat(10_000);
      break;
    case 3:
      site = 'a b';
      range = '1.x;2';
      break;
    default:
      break;
  }
  const fields = [r.pick(['1', '1', '1', '2', '']), callId, service, method, budget, path, site];
  if (r.int(10) > 0) fields.push(range);
  return fields.join(';');
}

/** A header block for a call: mostly well formed, sometimes not NATS at all. */
function callHeaders(service: string, r: Random): Buffer {
  const lines = [`sb-call: ${callHeaderValue(service, r)}`];
  if (r.int(8) === 0) lines.push('sb-cancel: 1');
  if (r.int(8) === 0)
    lines.push(`sb-reply: ${r.pick(['_INBOX.x', 'x y', 'sb.broker.register.x', '_INBOX.*'])}`);
  if (r.int(6) === 0) lines.push(`x-long: ${'v'.repeat(r.int(20_000))}`);
  if (r.int(6) === 0) lines.push(r.pick(['x-poison: a\nb', 'x-poison: a\rb', 'no colon here']));
  const text = `NATS/1.0\r\n${lines.join('\r\n')}\r\n\r\n`;
  const block = Buffer.from(text, 'latin1');
  // Now and then bytes that are not valid UTF-8.
  if (r.int(10) === 0) block[12] = 0xc3;
  return block;
}

/** A probe of calls in flight: mostly a handful of ids, sometimes far too many. */
function probeFrame(subject: string, r: Random): Frame {
  const count = r.int(10) === 0 ? 1000 + r.int(2000) : r.int(5);
  const probe = { v: 1, calls: Array.from({ length: count }, () => `fz-${r.int(1e6)}`) };
  const body = encodeAnything(r.int(3) ? probe : mutate(probe, r), r);
  return { subject, headers: Buffer.from('NATS/1.0\r\nsb-probe: 1\r\n\r\n'), body };
}

/** A header block of random bytes, or one that claims to be an error reply. */
function junkHeaders(r: Random): Buffer {
  if (r.int(2)) return Buffer.from('NATS/1.0\r\nsb-st: err\r\n\r\n');
  return Buffer.concat([Buffer.from('NATS/1.0\r\n'), r.bytes(r.int(200)), Buffer.from('\r\n\r\n')]);
}

/** The next frame for one of `targets`. */
export function nextFrame(targets: readonly Target[], r: Random): Frame {
  const target = r.pick(targets);
  const { subject, kind } = target;
  const service = /\.(calculator|x)(\.|$)/.exec(subject)?.[1] ?? 'calculator';
  if (kind === 'call' && r.int(8) === 0) return probeFrame(subject, r);
  switch (r.int(6)) {
    case 0:
      return { subject, body: r.bytes(r.int(512)) };
    case 1:
      return { subject, headers: junkHeaders(r), body: r.bytes(r.int(128)) };
    case 2: {
      const body = encodeAnything(template(kind, r), r);
      if (kind === 'call') return { subject, headers: callHeaders(service, r), body };
      return { subject, body };
    }
    default: {
      const body = encodeAnything(mutate(template(kind, r), r), r);
      if (kind === 'call') return { subject, headers: callHeaders(service, r), body };
      return { subject, body };
    }
  }
}
