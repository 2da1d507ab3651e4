/**
 * A requester process: the client side of one case. Kinds:
 *   raw               nats.js `nc.request()` (muxed inbox, noAsyncTraces, reused msgpack Encoder/Decoder)
 *   floor             the hand-written floor (bench/lib/floor.mjs); `config.subject`
 *                     (`bench.floor`, or `bench.relay` through the floor relay)
 *   moleculer         `broker.call('calc.<method>', params)` on a ServiceBroker
 *   switchboard       `client.proxy('calc').<method>(...)`, calls go straight to an instance
 *   switchboard-thin  the same with `viaBroker: true` (the broker forwards every call)
 * Commands: latency, throughput, and the scenarios pollCallable and
 * startContinuous/stopContinuous (switchboard only).
 */
import { importDist } from './lib/dist.mjs';
import { startFloorRequester } from './lib/floor.mjs';
import { runChild } from './lib/ipc.mjs';
import { PAYLOADS, payloadByName } from './lib/payloads.mjs';
import { percentile } from './lib/stats.mjs';

const now = () => process.hrtime.bigint();

await runChild(async (config) => {
  const target = await connectTarget(config);
  if (!config.skipCheck) {
    for (const p of PAYLOADS) await firstCall(target.caller(p), p, config.readyTimeoutMs ?? 15_000);
  }
  return {
    info: {},
    handlers: {
      latency: (params) => latency(target, params),
      throughput: (params) => throughput(target, params),
      pollCallable: (params) => pollCallable(target, params),
      startContinuous: (params) => startContinuous(target, params),
      stopContinuous: () => stopContinuous(),
      close: () => target.close(),
    },
  };
});

async function connectTarget(config) {
  switch (config.kind) {
    case 'raw':
      return rawTarget(config);
    case 'floor':
      return startFloorRequester(config.nats, config.subject);
    case 'moleculer':
      return moleculerTarget(config);
    case 'switchboard':
    case 'switchboard-thin':
      return switchboardTarget(config);
    default:
      throw new Error(`unknown requester kind '${config.kind}'`);
  }
}

async function rawTarget(config) {
  const { connect } = await import('nats');
  const { Encoder, Decoder } = await import('@msgpack/msgpack');
  const nc = await connect({
    servers: config.nats,
    noAsyncTraces: true,
    name: 'bench-raw-requester',
  });
  const encoder = new Encoder();
  const decoder = new Decoder();
  const opts = { timeout: 10_000 };
  return {
    caller(p) {
      const call = [p.method, ...p.args];
      return async () =>
        decoder.decode((await nc.request('bench.raw', encoder.encode(call), opts)).data);
    },
    close: () => nc.close(),
  };
}

async function moleculerTarget(config) {
  const { brokerOptions, ServiceBroker } = await import('./lib/moleculer.mjs');
  const Broker = ServiceBroker();
  const broker = new Broker(brokerOptions(`requester-${process.pid}`, config.nats, config.variant));
  await broker.start();
  await broker.waitForServices(['calc'], 15_000);
  return {
    caller(p) {
      const action = `calc.${p.method.startsWith('add') ? 'add' : 'echo'}`;
      const params = p.params;
      return () => broker.call(action, params);
    },
    close: () => broker.stop(),
  };
}

async function switchboardTarget(config) {
  const { Client } = await importDist();
  const options = {
    nats: config.nats,
    timeoutMs: 10_000,
    viaBroker: config.kind === 'switchboard-thin',
  };
  let tap;
  if (config.tap) {
    // Own connection, so the scenario can see every message the client sends.
    const { connect } = await import('nats');
    const nc = await connect({
      servers: config.nats,
      noAsyncTraces: true,
      name: 'bench-tapped-client',
    });
    tap = { nc, sent: [] };
    const publish = nc.publish.bind(nc);
    nc.publish = (subject, data, opts) => {
      if (tap.watch?.has(subject))
        tap.sent.push({ subject, at: performance.timeOrigin + performance.now() });
      return publish(subject, data, opts);
    };
    options.connection = nc;
  }
  const client = await Client.connect(options);
  const calc = client.proxy(config.service ?? 'calc');
  return {
    client,
    tap,
    caller(p) {
      const fn = calc[p.method];
      const [a, b] = p.args;
      return p.args.length === 2 ? () => fn(a, b) : () => fn(a);
    },
    async close() {
      await client.close();
      await tap?.nc.close();
    },
  };
}

/** Calls until the first success (the service may not be visible yet) and checks the result. */
async function firstCall(fn, p, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const result = await fn();
      if (result !== p.expect) throw new Error(`${p.method} returned a wrong result`);
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error(`no successful ${p.method} call within ${timeoutMs} ms: ${last?.message}`);
}

/** Runs `inflight` concurrent call loops for `durationMs`; counts completions. */
async function runLoad(fn, inflight, durationMs) {
  let stop = false;
  let completed = 0;
  let errors = 0;
  let firstError;
  const loop = async () => {
    while (!stop) {
      try {
        await fn();
        completed++;
      } catch (err) {
        errors++;
        firstError ??= String(err?.message ?? err);
      }
    }
  };
  const started = now();
  let inWindow = 0;
  let elapsedNs = 0n;
  const timer = setTimeout(() => {
    stop = true;
    inWindow = completed;
    elapsedNs = now() - started;
  }, durationMs);
  const loops = [];
  for (let i = 0; i < inflight; i++) loops.push(loop());
  await Promise.all(loops);
  clearTimeout(timer);
  return { completed, inWindow, elapsedMs: Number(elapsedNs) / 1e6, errors, firstError };
}

/**
 * Sequential calls after a warm-up: per-call latency percentiles in
 * microseconds, and with `samples` every call's latency (for blocks of calls
 * that the runner interleaves with another requester's).
 */
async function latency(
  target,
  { payload, warmupMs = 500, warmupCalls = 200, count = 2000, samples: withSamples = false },
) {
  const fn = target.caller(payloadByName(payload));
  if (warmupMs > 0) await runLoad(fn, 64, warmupMs);
  for (let i = 0; i < warmupCalls; i++) await fn();
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const t0 = now();
    await fn();
    samples[i] = Number(now() - t0) / 1000;
  }
  let sum = 0;
  for (const s of samples) sum += s;
  return {
    p50_us: percentile(samples, 50),
    p99_us: percentile(samples, 99),
    mean_us: sum / count,
    count,
    ...(withSamples && { samples: Array.from(samples) }),
  };
}

/** Throughput with a fixed window of calls in flight; also this process's CPU time. */
async function throughput(target, { payload, inflight, durationMs }) {
  const fn = target.caller(payloadByName(payload));
  const cpu0 = process.cpuUsage();
  const r = await runLoad(fn, inflight, durationMs);
  const cpu = process.cpuUsage(cpu0);
  return { ...r, rps: r.inWindow / (r.elapsedMs / 1000), cpuUs: cpu.user + cpu.system };
}

/**
 * Time-to-callable: calls `service.add(1, 2)` every `intervalMs` (each with a
 * short timeout) until one succeeds; resolves with the local time of that success.
 */
async function pollCallable(
  target,
  { service, intervalMs = 1, callTimeoutMs = 200, timeoutMs = 10_000 },
) {
  const { client } = target;
  if (!client) throw new Error('pollCallable needs a switchboard requester');
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  let lastError;
  while (Date.now() < deadline) {
    attempts++;
    try {
      const result = await client.call(service, 'add', [1, 2], { timeoutMs: callTimeoutMs });
      if (result === 3) return { successAt: Date.now(), attempts };
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `${service} not callable within ${timeoutMs} ms (${attempts} attempts; last: ${lastError?.code} ${lastError?.message})`,
  );
}

let continuous;

/**
 * Kill scenario: `concurrency` loops call `calc.add` continuously (timeout
 * `callTimeoutMs`), recording failures, and every message the client sends to
 * the watched instance subjects; registry events are recorded too.
 */
async function startContinuous(target, { concurrency = 8, callTimeoutMs = 1000, watch = [] }) {
  const { client, tap } = target;
  if (!client || !tap) throw new Error('startContinuous needs a tapped switchboard requester');
  const { Decoder } = await import('@msgpack/msgpack');
  const decoder = new Decoder();
  tap.watch = new Set(watch);
  tap.sent.length = 0;
  const events = [];
  const { subjectsFor } = await importDist('internal.js');
  const sub = tap.nc.subscribe(subjectsFor().registryEventsAll, {
    callback: (err, msg) => {
      if (!err) events.push({ ...decoder.decode(msg.data), at: Date.now() });
    },
  });
  const state = { stop: false, ok: 0, failures: [], slow: [], events, sub, tap };
  const loop = async () => {
    while (!state.stop) {
      const t0 = Date.now();
      try {
        await client.call('calc', 'add', [1, 2], { timeoutMs: callTimeoutMs });
        state.ok++;
        const took = Date.now() - t0;
        if (took > 20) state.slow.push({ at: t0, ms: took });
      } catch (err) {
        state.failures.push({ at: t0, ms: Date.now() - t0, code: err.code, message: err.message });
      }
    }
  };
  state.loops = Array.from({ length: concurrency }, loop);
  continuous = state;
  return {};
}

async function stopContinuous() {
  const state = continuous;
  if (!state) throw new Error('not running');
  state.stop = true;
  await Promise.all(state.loops);
  state.sub.unsubscribe();
  continuous = undefined;
  return {
    ok: state.ok,
    failures: state.failures,
    slow: state.slow,
    events: state.events,
    sent: state.tap.sent.splice(0),
  };
}
