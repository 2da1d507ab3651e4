/**
 * The hand-written floor: the least a nats.js call can cost. The responder
 * subscribes to `bench.floor.*` (the method is the last token; body: msgpack
 * args) and answers with `msg.respond()`; the requester keeps one wildcard
 * reply subscription and a Map of pending calls, and publishes (no per-call
 * timer, no headers). Used by the bench's `floor` cases and by
 * bench/call-instructions.mjs.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { connect, createInbox, headers } from 'nats';
import { METHODS } from './payloads.mjs';

const SUBJECT = 'bench.floor';

/** The floor's server side on the nats-server at `url`; resolves once subscribed. */
export async function startFloorResponder(url) {
  const nc = await connect({ servers: url, noAsyncTraces: true, name: 'bench-floor' });
  const encoder = new Encoder();
  const decoder = new Decoder();
  const prefix = `${SUBJECT}.`.length;
  nc.subscribe(`${SUBJECT}.*`, {
    callback: (err, msg) => {
      if (err) return;
      const args = decoder.decode(msg.data);
      msg.respond(encoder.encode(METHODS[msg.subject.slice(prefix)](...args)));
    },
  });
  await nc.flush();
  return { close: () => nc.close() };
}

/**
 * The floor's client side on the nats-server at `url`. `subject` is where
 * calls go (`bench.floor`, or `bench.relay` through the hand-written relay,
 * when each call carries one header for the relay to rewrite). `caller(p)`
 * makes a function that calls payload `p` of bench/lib/payloads.mjs once.
 */
export async function startFloorRequester(url, subject = SUBJECT) {
  const nc = await connect({ servers: url, noAsyncTraces: true, name: 'bench-floor' });
  const encoder = new Encoder();
  const decoder = new Decoder();
  const inbox = createInbox();
  const pending = new Map();
  let seq = 0;
  nc.subscribe(`${inbox}.*`, {
    callback: (err, msg) => {
      if (err) return;
      const id = msg.subject.slice(inbox.length + 1);
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      // A 503 status (no responders) carries no body.
      if (msg.data.length === 0) p.reject(new Error('no responders'));
      else p.resolve(decoder.decode(msg.data));
    },
  });
  await nc.flush();
  const withHeader = subject === 'bench.relay';
  return {
    caller(p) {
      const to = `${subject}.${p.method}`;
      return () =>
        new Promise((resolve, reject) => {
          const id = (++seq).toString(36);
          pending.set(id, { resolve, reject });
          let h;
          if (withHeader) {
            h = headers();
            h.set('x-path', 'a');
          }
          nc.publish(to, encoder.encode(p.args), { reply: `${inbox}.${id}`, headers: h });
        });
    },
    close: () => nc.close(),
  };
}
