/**
 * Feeds a broker many registrations over NATS, as fast as it takes them
 * (requests published in windows, not awaited one by one), and times lookups
 * against it. Long `heartbeatMs` so no lease expires while we measure.
 */
import { importDist } from './lib/dist.mjs';
import { runChild } from './lib/ipc.mjs';
import { median, percentile } from './lib/stats.mjs';

await runChild(async (config) => {
  const { connect, createInbox } = await import('nats');
  const { Encoder, Decoder } = await import('@msgpack/msgpack');
  const subjects = (await importDist('internal.js')).subjectsFor();
  const nc = await connect({ servers: config.nats, noAsyncTraces: true, name: 'bench-feeder' });
  const encoder = new Encoder();
  const decoder = new Decoder();
  const inbox = createInbox();
  const waiters = new Map();
  nc.subscribe(`${inbox}.*`, {
    callback: (err, msg) => {
      if (err) return;
      const token = msg.subject.slice(inbox.length + 1);
      const w = waiters.get(token);
      if (!w) return;
      waiters.delete(token);
      w(msg);
    },
  });
  let seq = 0;
  const request = (subject, body) =>
    new Promise((resolve, reject) => {
      const token = (++seq).toString(36);
      const timer = setTimeout(() => {
        waiters.delete(token);
        reject(new Error(`no reply on ${subject}`));
      }, 20_000);
      waiters.set(token, (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
      nc.publish(subject, encoder.encode(body), { reply: `${inbox}.${token}` });
    });

  async function register({ count = 100_000, services = 1000, window = 1000 }) {
    const t0 = Date.now();
    let next = 0;
    const one = async () => {
      while (next < count) {
        const i = next++;
        const service = `svc-${i % services}`;
        const reply = await request(subjects.services.register(service), {
          v: 1,
          instance: {
            id: `fed-${i.toString(36).padStart(6, '0')}-${(i * 2654435761) % 1e9}`,
            service,
            version: '1.0.0',
            methods: ['add', 'echo'],
            metadata: {},
            heartbeatMs: 600_000,
            secret: 'bench-feeder-secret-0',
          },
        });
        if (reply.headers)
          throw new Error(`registration refused: ${JSON.stringify(decoder.decode(reply.data))}`);
      }
    };
    await Promise.all(Array.from({ length: window }, one));
    return { count, ms: Date.now() - t0 };
  }

  async function lookupRtt({ count = 2000, services = 1000 }) {
    const samples = [];
    let instances = 0;
    for (let i = 0; i < count; i++) {
      const t0 = process.hrtime.bigint();
      const reply = await request(subjects.lookup, {
        v: 1,
        service: `svc-${(i * 7919) % services}`,
      });
      samples.push(Number(process.hrtime.bigint() - t0) / 1000);
      instances = decoder.decode(reply.data).instances.length;
    }
    return {
      p50_us: median(samples),
      p99_us: percentile(samples, 99),
      instances_per_reply: instances,
    };
  }

  return { handlers: { register, lookupRtt, close: () => nc.close() } };
});
