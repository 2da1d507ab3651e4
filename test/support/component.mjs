/**
 * One Switchboard component in a process of its own, for the tests that need
 * real processes (fuzzing, faults): the role and its options come as JSON on
 * the command line, commands over IPC (see scripts/lib/child-ipc.mjs).
 * Logs at warn and above go to stderr, one line each.
 *
 * Roles: `broker`, `server` (the calculator), `bridge`, and for the fault
 * suite `counter` (a journaling service, counter-role.mjs) and `load` (a
 * client calling it under load, load-role.mjs).
 */
import { runChild } from '../../scripts/lib/child-ipc.mjs';
import { counterRole } from './counter-role.mjs';
import { loadRole } from './load-role.mjs';

const sb = await import(new URL('../../dist/internal.js', import.meta.url).href);

await runChild(async (config) => {
  const logger = sb.lineLogger(config.role, config.logLevel ?? 'warn', (line) =>
    process.stderr.write(line),
  );
  const nats = { nats: config.nats, logger };
  if (config.role === 'broker') {
    const broker = await sb.Broker.start({ ...nats, ...config.options, site: config.site });
    return {
      info: { id: broker.id },
      handlers: { size: () => broker.registry.size, close: () => broker.close() },
    };
  }
  if (config.role === 'server') {
    const service = config.service === 'calculator' ? sb.calculatorService() : undefined;
    if (!service) throw new Error(`unknown service '${config.service}'`);
    const server = await sb.serve(service, { ...nats, ...config.options });
    return {
      info: { instanceId: server.instanceId },
      handlers: { close: () => server.close() },
    };
  }
  if (config.role === 'bridge') {
    const bridge = await sb.Bridge.start({
      local: { nats: config.local, logger },
      remote: { nats: config.remote, logger },
      ...config.options,
    });
    if (!(await bridge.ready())) throw new Error('bridge did not link');
    return { info: bridge.sites, handlers: { close: () => bridge.close() } };
  }
  if (config.role === 'counter') return counterRole(sb, config, nats);
  if (config.role === 'load') return loadRole(sb, config, nats);
  throw new Error(`unknown role '${config.role}'`);
});
