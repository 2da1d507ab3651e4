import type { Argv } from 'yargs';
import { calculatorService } from '../../examples/calculator.js';
import { lineLogger, type ServerProxy, serve } from '../../index.js';
import { defineCommand } from '../command.js';
import {
  connectFailure,
  toConnectionOptions,
  withConnectionOptions,
  withWaitForNats,
} from '../connection-options.js';
import { describeError } from '../format.js';
import { type CliIo, ExitCode, usageError } from '../io.js';
import { watchSignals } from '../signals.js';

/** How often a server that no broker confirmed yet is checked again. */

/** `switchboard serve-example`: serves the example `calculator` service until SIGINT or SIGTERM. */
export const serveExampleCommand = defineCommand({
  command: 'serve-example',
  describe: 'Serve the example calculator service (add, divide, sleep) until SIGINT or SIGTERM',
  builder: (y: Argv) =>
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
    ).example('$0 serve-example --nats nats://127.0.0.1:4222', 'serve calculator 1.0.0'),
  async run(args, io) {
    const logger = lineLogger('server', args.logLevel, io.stderr);
    const shutdown = watchSignals(io);
    try {
      const service = calculatorService(args.serviceVersion);
      let server: ServerProxy;
      try {
        server = await serve(service, {
          ...toConnectionOptions(args, logger),
          instanceId: args.instanceId,
          heartbeatMs: args.heartbeatMs,
          drainTimeoutMs: args.drainTimeoutMs,
        });
      } catch (err) {
        if (err instanceof TypeError) return usageError(io, 'serve-example', err.message);
        io.stderr(`${describeError(connectFailure(args.nats, err))}\n`);
        return ExitCode.FAILURE;
      }
      shutdown.started();
      const stopAnnouncing = announceRegistration(server, args.nats, io);
      const signal = await shutdown.received;
      stopAnnouncing();
      io.stderr(`${signal}: draining ${server.service} instance ${server.instanceId}\n`);
      await server.close();
      return ExitCode.OK;
    } finally {
      shutdown.release();
    }
  },
});

/** Prints one line once a broker has confirmed the registration (at once if it already has). */
function announceRegistration(server: ServerProxy, nats: string, io: CliIo): () => void {
  if (!server.registered) {
    io.stderr(
      `${server.service} ${server.version} instance ${server.instanceId}: no broker answered at ${nats} yet; waiting\n`,
    );
  }
  let stopped = false;
  void server.whenRegistered().then((ok) => {
    if (ok && !stopped) {
      io.stderr(
        `${server.service} ${server.version} serving as instance ${server.instanceId} at site ${server.site}\n`,
      );
    }
  });
  return () => {
    stopped = true;
  };
}
