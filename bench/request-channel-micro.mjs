/**
 * RequestChannel alone, over a fake connection that answers every request
 * in the next macrotask batch: CPU time (process.cpuUsage, so that other
 * load on the machine does not count) per request with `inflight` requests
 * pending, for the build in dist/ or the one given (to compare two builds).
 *   node --expose-gc bench/request-channel-micro.mjs [DIST_DIR ...]
 */
import { pathToFileURL } from 'node:url';

const dirs = process.argv.slice(2);
if (dirs.length === 0) dirs.push(new URL('../dist/', import.meta.url).pathname);
const INFLIGHT = 256;
const ROUNDS = 4000;

async function measure(dir) {
  const { RequestChannel } = await import(pathToFileURL(`${dir}/transport/index.js`).href);
  let deliver;
  const queue = [];
  const nc = {
    subscribe: (_s, opts) => {
      deliver = opts.callback;
      return { unsubscribe() {} };
    },
    publish: (_subject, _data, opts) => queue.push(opts.reply),
    isClosed: () => false,
  };
  const channel = new RequestChannel(nc);
  const data = new Uint8Array(8);
  const reply = new Uint8Array([3]);
  const run = async (rounds) => {
    for (let r = 0; r < rounds; r++) {
      const all = [];
      for (let i = 0; i < INFLIGHT; i++) {
        all.push(channel.request('calc.add', { data, timeoutMs: 10_000, target: 'calc.add' }));
      }
      // Replies arrive as one batch, as they do from a socket read.
      await new Promise((r) => setImmediate(r));
      for (const to of queue.splice(0))
        deliver(null, { subject: to, data: reply, headers: undefined });
      await Promise.all(all);
    }
  };
  await run(ROUNDS / 10);
  global.gc?.();
  const c0 = process.cpuUsage();
  await run(ROUNDS);
  const c = process.cpuUsage(c0);
  channel.close();
  return ((c.user + c.system) * 1000) / (ROUNDS * INFLIGHT);
}

for (let rep = 0; rep < 3; rep++) {
  for (const dir of dirs) {
    console.log(
      `${dir.padEnd(40)} ${(await measure(dir)).toFixed(0).padStart(6)} ns CPU per request`,
    );
  }
}
