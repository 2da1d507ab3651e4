/**
 * A hand-written relay of the `floor-relay` cases: what a bridge hop costs at
 * the least with nats.js. Subscribes to `bench.relay.>` at the near site,
 * rewrites one header (`x-path` grows by the far site), republishes the call
 * to `<to>.<method>` at the far site (`bench.floor`, the floor responder; or
 * `bench.relay` again, for the next relay of a chain) with
 * a reply subject of its own (one wildcard reply subscription, a Map of
 * pending calls, no per-call timer), and relays the reply's body to the
 * caller. Bodies are never decoded.
 */
import { runChild } from './lib/ipc.mjs';

await runChild(async (config) => {
  const { connect, createInbox, headers } = await import('nats');
  const opts = { noAsyncTraces: true, name: 'bench-floor-relay' };
  const near = await connect({ servers: config.near, ...opts });
  const far = await connect({ servers: config.far, ...opts });
  const inbox = createInbox();
  const pending = new Map();
  let seq = 0;
  far.subscribe(`${inbox}.*`, {
    callback: (err, msg) => {
      if (err) return;
      const id = msg.subject.slice(inbox.length + 1);
      const replyTo = pending.get(id);
      if (replyTo === undefined) return;
      pending.delete(id);
      near.publish(replyTo, msg.data);
    },
  });
  const { to, farSite } = config;
  const prefix = 'bench.relay.'.length;
  near.subscribe('bench.relay.>', {
    callback: (err, msg) => {
      if (err || !msg.reply) return;
      const h = headers();
      h.set('x-path', `${msg.headers?.get('x-path') ?? ''},${farSite}`);
      const id = (++seq).toString(36);
      pending.set(id, msg.reply);
      far.publish(`${to}.${msg.subject.slice(prefix)}`, msg.data, {
        reply: `${inbox}.${id}`,
        headers: h,
      });
    },
  });
  await Promise.all([near.flush(), far.flush()]);
  return {
    handlers: {
      close: async () => {
        await near.close();
        await far.close();
      },
    },
  };
});
