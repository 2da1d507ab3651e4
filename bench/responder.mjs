/**
 * A responder process: the server side of one case.
 *   raw          nats.js subscription on `bench.raw`; body msgpack [method, ...args]
 *   floor        the hand-written floor (bench/lib/floor.mjs)
 *   moleculer    a ServiceBroker with service `calc` (one action per method)
 *   switchboard  `serve()` of service `calc` (or `config.service`) at the site of `config.nats`
 */
import { importDist } from './lib/dist.mjs';
import { startFloorResponder } from './lib/floor.mjs';
import { runChild } from './lib/ipc.mjs';
import { METHODS } from './lib/payloads.mjs';

await runChild(async (config) => {
  if (config.kind === 'raw') return raw(config);
  if (config.kind === 'floor') return floor(config);
  if (config.kind === 'moleculer') return moleculer(config);
  if (config.kind === 'switchboard') return switchboard(config);
  throw new Error(`unknown responder kind '${config.kind}'`);
});

async function raw(config) {
  const { connect } = await import('nats');
  const { Encoder, Decoder } = await import('@msgpack/msgpack');
  const nc = await connect({
    servers: config.nats,
    noAsyncTraces: true,
    name: 'bench-raw-responder',
  });
  const encoder = new Encoder();
  const decoder = new Decoder();
  nc.subscribe('bench.raw', {
    callback: (err, msg) => {
      if (err) return;
      const [method, ...args] = decoder.decode(msg.data);
      msg.respond(encoder.encode(METHODS[method](...args)));
    },
  });
  await nc.flush();
  return { handlers: { close: () => nc.close() } };
}

async function floor(config) {
  const responder = await startFloorResponder(config.nats);
  return { handlers: { close: () => responder.close() } };
}

async function moleculer(config) {
  const { brokerOptions, ServiceBroker } = await import('./lib/moleculer.mjs');
  const Broker = ServiceBroker();
  const broker = new Broker(brokerOptions(`responder-${process.pid}`, config.nats, config.variant));
  broker.createService({
    name: 'calc',
    actions: {
      add: (ctx) => ctx.params.a + ctx.params.b,
      echo: (ctx) => ctx.params.s,
    },
  });
  await broker.start();
  return { handlers: { close: () => broker.stop() } };
}

async function switchboard(config) {
  const { serve } = await importDist();
  const server = await serve(
    { name: config.service ?? 'calc', methods: METHODS },
    { nats: config.nats, heartbeatMs: config.heartbeatMs, registerTimeoutMs: 10_000 },
  );
  if (!(await server.whenRegistered())) throw new Error('no broker confirmed the registration');
  const registeredAt = Date.now();
  return {
    info: { instanceId: server.instanceId, registeredAt },
    handlers: { close: () => server.close() },
  };
}
