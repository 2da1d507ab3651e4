import type { Argv } from 'yargs';
import { BALANCE_POLICIES, Broker, lineLogger } from '../../index.js';
import { defineCommand } from '../command.js';
import {
  connectFailure,
  toConnectionOptions,
  withConnectionOptions,
  withWaitForNats,
} from '../connection-options.js';
import { describeError } from '../format.js';
import { ExitCode, usageError } from '../io.js';
import { watchSignals } from '../signals.js';

/** `switchboard broker`: runs a site's broker until SIGINT or SIGTERM. */
export const brokerCommand = defineCommand({
  command: 'broker',
  describe: "Run a broker for a site (the site's registry) until SIGINT or SIGTERM",
  builder: (y: Argv) =>
    withWaitForNats(
      withConnectionOptions(
        y.options({
          site: {
            type: 'string',
            demandOption: true,
            describe: 'Name of the site this broker serves (letters, digits, _ and -)',
          },
          id: { type: 'string', describe: 'Broker id [default: random]' },
          'lease-factor': {
            type: 'number',
            describe: 'A lease lasts this many heartbeat intervals of the instance [default: 3]',
          },
          'sweep-interval-ms': {
            type: 'number',
            describe: 'How often expired leases are swept, in ms [default: 250]',
          },
          policy: {
            type: 'string',
            choices: BALANCE_POLICIES,
            default: 'round-robin' as const,
            describe: 'How calls forwarded for thin clients are spread over instances',
          },
        }),
        'warn',
      ),
    ).example('$0 broker --site paris --nats nats://127.0.0.1:4222', 'serve site paris'),
  async run(args, io) {
    const logger = lineLogger('broker', args.logLevel, io.stderr);
    const shutdown = watchSignals(io);
    try {
      let broker: Broker;
      try {
        broker = await Broker.start({
          ...toConnectionOptions(args, logger),
          site: args.site,
          id: args.id,
          leaseFactor: args.leaseFactor,
          sweepIntervalMs: args.sweepIntervalMs,
          policy: args.policy,
        });
      } catch (err) {
        if (err instanceof TypeError) return usageError(io, 'broker', err.message);
        io.stderr(`${describeError(connectFailure(args.nats, err))}\n`);
        return ExitCode.FAILURE;
      }
      shutdown.started();
      io.stderr(`broker ${broker.id} serving site ${broker.site} on ${args.nats}\n`);
      const signal = await shutdown.received;
      io.stderr(`${signal}: stopping broker ${broker.id}\n`);
      await broker.close();
      return ExitCode.OK;
    } finally {
      shutdown.release();
    }
  },
});
