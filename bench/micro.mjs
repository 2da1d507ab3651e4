/**
 * Micro-benchmarks of the per-call steps that the CPU profiles point at, in
 * one process, no I/O: what each step of a call costs in nanoseconds, next to
 * the alternatives, to size what a change in src/ saves.
 *   node --expose-gc bench/micro.mjs
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { NatsError, headers as natsHeaders } from 'nats';
import * as sb from '../dist/internal.js';
import { payloadByName } from './lib/payloads.mjs';

const { Codec, callHeaders, Header, isCancelNotice, LoadBalancer, readCallMeta } = sb;
const ITER = 300_000;

function bench(name, fn, iter = ITER) {
  for (let i = 0; i < iter / 10; i++) fn(i); // warm up
  global.gc?.();
  const t0 = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < iter; i++) sink += fn(i) ? 1 : 0;
  const ns = Number(process.hrtime.bigint() - t0) / iter;
  console.log(`${name.padEnd(76)} ${ns.toFixed(0).padStart(6)} ns`);
  return sink;
}

const meta = (i) => ({
  callId: `k3j4h5g6-${i.toString(36)}`,
  service: 'calc',
  method: 'add',
  budgetMs: 9998,
  path: ['a'],
  versionRange: undefined,
});
const MsgHdrsImpl = natsHeaders().constructor;
const te = new TextEncoder();
const codec = new Codec();

/** What Switchboard did before it packed its metadata in one header: six MsgHdrs entries (with sb-path). */
function msgHdrsAsBefore(m) {
  const h = natsHeaders();
  h.set('sb-v', '1');
  h.set('sb-id', m.callId);
  h.set('sb-svc', m.service);
  h.set('sb-m', m.method);
  h.set('sb-dl', String(m.budgetMs));
  h.set('sb-path', m.path.join(','));
  return h;
}

console.log('requester, per call');
bench('callHeaders(meta).encode()  [src/protocol/headers.ts as built]', (i) => {
  return callHeaders(meta(i)).encode().length;
});
bench('  for reference: nats.js MsgHdrs with 6 set() + encode()', (i) => {
  return msgHdrsAsBefore(meta(i)).encode().length;
});
bench('  for reference: one template string + TextEncoder', (i) => {
  const m = meta(i);
  const s = `NATS/1.0\r\nsb-call: 1;${m.callId};${m.service};${m.method};${m.budgetMs};${m.path.join(',')};;\r\n\r\n`;
  return te.encode(s).length;
});
bench('setTimeout + clearTimeout (one deadline timer per request)', () => {
  const t = setTimeout(() => {}, 10_000);
  clearTimeout(t);
  return true;
});
bench('Promise + pending record + Map set/delete (RequestChannel bookkeeping)', (i) => {
  const m = new Map();
  const token = i.toString(36);
  let r;
  const p = new Promise((resolve) => {
    r = resolve;
  });
  m.set(token, { resolve: r, timer: undefined });
  m.get(token).resolve(1);
  m.delete(token);
  return p !== undefined;
});
bench('Codec.encode([1, 2])', () => codec.encode([1, 2]).length);
// The 1kib-obj payload's call body; the stock encoder (a fresh buffer per body) beside it.
const kibArgs = payloadByName('1kib-obj').args;
const stockEncoder = new Encoder({ ignoreUndefined: true });
bench('Codec.encode([{ s: 1 KiB }])', () => codec.encode(kibArgs).length);
bench(
  '  for reference: stock Encoder.encode([{ s: 1 KiB }])',
  () => stockEncoder.encode(kibArgs).length,
);
const reply = codec.encode(3);
bench('Codec.decode(result)', () => codec.decode(reply) === 3);
const balancer = new LoadBalancer('least-outstanding');
const instances = [{ id: 'x1', hops: 0 }];
bench('LoadBalancer pick + begin + end (least-outstanding, 1 instance)', () => {
  const c = balancer.pick(instances);
  balancer.begin(c.id);
  balancer.end(c.id);
  return true;
});

console.log('\nresponder (and relays), per call');
const block = callHeaders(meta(12345)).encode();
if (typeof sb.parseHeaderBlock === 'function') {
  bench('parseHeaderBlock(raw bytes) + readCallMeta + isCancelNotice + get(sb-reply)', () => {
    const h = sb.parseHeaderBlock(block);
    const cm = readCallMeta(h);
    return !isCancelNotice(h) && h.get(Header.replyTo) === '' && cm.budgetMs > 0;
  });
}
bench('  for reference: MsgHdrsImpl.decode (what msg.headers does) + the same reads', () => {
  const h = MsgHdrsImpl.decode(block);
  const cm = readCallMeta(h);
  return !isCancelNotice(h) && h.get(Header.replyTo) === '' && cm.budgetMs > 0;
});
const before = msgHdrsAsBefore(meta(12345)).encode();
bench('  for reference: MsgHdrsImpl.decode of the six-header block + 9 get()', () => {
  const h = MsgHdrsImpl.decode(before);
  let n = 0;
  for (const k of [
    'sb-v',
    'sb-id',
    'sb-svc',
    'sb-m',
    'sb-dl',
    'sb-path',
    'sb-ver',
    'sb-site',
    'sb-cancel',
  ]) {
    n += h.get(k).length;
  }
  return n > 0;
});
const args = codec.encode([1, 2]);
bench(
  'Codec.decode(args) + Codec.encode(result)',
  () => codec.decode(args).length + codec.encode(3).length,
);
bench('ServerCallContext-like object + args.push + handler(...args)', (i) => {
  const ctx = {
    service: 'calc',
    method: 'add',
    callId: 'x',
    deadline: i,
    path: [],
    replied: false,
  };
  const a = [1, 2];
  a.push(ctx);
  const f = (x, y) => x + y;
  return f(...a) === 3;
});

console.log('\nraw baseline (nats.js nc.request), per call');
bench('NatsError.errorForCode(CANCELLED)  [RequestOne.cancel() after every reply]', () => {
  return NatsError.errorForCode('CANCELLED') !== undefined;
});
const enc = new Encoder();
const dec = new Decoder();
bench("msgpack encode(['add', 1, 2]) + decode(result), reused Encoder/Decoder", () => {
  return enc.encode(['add', 1, 2]).length + dec.decode(reply);
});
