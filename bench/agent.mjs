/**
 * Switchboard infrastructure in its own process:
 *   broker  `Broker.start({ site, nats })`
 *   bridge  `Bridge.start({ local: { nats }, remote: { nats } })`, ready once linked
 */
import { importDist } from './lib/dist.mjs';
import { runChild } from './lib/ipc.mjs';

await runChild(async (config) => {
  const sb = await importDist();
  if (config.role === 'broker') {
    const broker = await sb.Broker.start({
      site: config.site,
      nats: config.nats,
      limits: config.limits,
    });
    return {
      info: { id: broker.id },
      handlers: {
        size: () => broker.registry.size,
        close: () => broker.close(),
      },
    };
  }
  if (config.role === 'bridge') {
    const bridge = await sb.Bridge.start({
      local: { nats: config.local },
      remote: { nats: config.remote },
    });
    if (!(await bridge.ready())) throw new Error('bridge did not link');
    return { info: bridge.sites, handlers: { close: () => bridge.close() } };
  }
  throw new Error(`unknown agent role '${config.role}'`);
});
