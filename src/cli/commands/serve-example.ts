import type { Argv } from 'yargs';
import { calculatorService } from '../../examples/calculator.js';
import { type Logger, type ServerOptions, type ServerProxy, serve } from '../../index.js';
import { waitingNotice } from '../../util/index.js';
import { runUntilSignal } from '../agent.js';
import { defineCommand } from '../command.js';
import {
  toConnectionOptions,
  withConnectionOptions,
  withWaitForNats,
} from '../connection-options.js';
import { cliLogger, statusLogger } from '../logging.js';
import { metricsFor, withObservabilityOptions } from '../observability.js';

/** `switchboard serve-example`: serves the example `calculator` service until SIGINT or SIGTERM. */
export const serveExampleCommand = defineCommand({
  command: 'serve-example',
  describe: 'Serve the example calculator service (add, divide, sleep) until SIGINT or SIGTERM',
  builder: (y: Argv) =>
    withObservabilityOptions(
      withWaitForNats(
        withConnectionOptions(
          y.options({
            'service-version': {
              type: 'string',
              default: '1.0.0',
              describe: 'Version the calculator registers with (MAJOR.MINOR.PATCH)',
            },
            'heartbeat-ms': {
              type: 'number',
              describe:
                'Heartbeat interval; the broker drops the instance after a few missed beats [default: 1000]',
            },
            'instance-id': { type: 'string', describe: 'Instance id [default: random]' },
            'drain-timeout-ms': {
              type: 'number',
              describe:
                'On shutdown, how long calls in flight may finish before being aborted [default: 10000]',
            },
          }),
          'warn',
        ),
      ),
    ).example('$0 serve-example --nats nats://127.0.0.1:4222', 'serve calculator 1.0.0'),
  async run(args, io) {
    const logger = cliLogger('server', args, io);
    const status = statusLogger('server', args, io);
    const metrics = metricsFor(args);
    const options: ServerOptions = {
      ...toConnectionOptions(args, logger),
      instanceId: args.instanceId,
      heartbeatMs: args.heartbeatMs,
      drainTimeoutMs: args.drainTimeoutMs,
      metrics,
    };
    const service = calculatorService(args.serviceVersion);
    return runUntilSignal(io, {
      start: () => serve(service, options),
      where: args.nats,
      status,
      started: (server) => announceRegistration(server, args.nats, status),
      stopping: (server, signal) =>
        `${signal}: draining ${server.service} instance ${server.instanceId}`,
      observe: { args, metrics },
    });
  },
});

/**
 * Says, every few seconds, that no broker has confirmed the registration yet,
 * and one line once one has (at once if one already has).
 */
function announceRegistration(server: ServerProxy, nats: string, status: Logger): () => void {
  const instance = `${server.service} ${server.version} instance ${server.instanceId}`;
  const notice = waitingNotice(status, `a broker at ${nats} to register ${instance}`);
  if (!server.registered) notice.failed('no broker has answered yet');
  let stopped = false;
  void server.whenRegistered().then((ok) => {
    notice.stop();
    if (ok && !stopped) {
      status.info(
        `${server.service} ${server.version} serving as instance ${server.instanceId} at site ${server.site}`,
      );
    }
  });
  return () => {
    stopped = true;
    notice.stop();
  };
}
