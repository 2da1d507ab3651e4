import type { Argv } from 'yargs';
import { BALANCE_POLICIES, Broker, type BrokerOptions } from '../../index.js';
import { runUntilSignal } from '../agent.js';
import { defineCommand } from '../command.js';
import {
  toConnectionOptions,
  withConnectionOptions,
  withWaitForNats,
} from '../connection-options.js';
import { inFlightLimits, inFlightOptions } from '../in-flight-options.js';
import { cliLogger, statusLogger } from '../logging.js';
import { metricsFor, withObservabilityOptions } from '../observability.js';

const LIMITS = 'Registry limits:';

/** `--max-instances` and the other registry limits (each defaults to the library's). */
function limitOptions() {
  const limit = (describe: string) => ({ type: 'number' as const, describe, group: LIMITS });
  return {
    'max-instances': limit('Instances and routes the registry holds at most [default: 100000]'),
    'max-bridge-routes': limit(
      'Routes all bridges together may hold in the registry [default: half of --max-instances]',
    ),
    'max-methods': limit('Methods one instance may declare [default: 256]'),
    'max-metadata-bytes': limit('Bytes of metadata one instance may carry [default: 4096]'),
    'min-heartbeat-ms': limit('Shortest heartbeat interval accepted, in ms [default: 50]'),
    'max-heartbeat-ms': limit('Longest heartbeat interval accepted, in ms [default: 60000]'),
  };
}

/** `switchboard broker`: runs a site's broker until SIGINT or SIGTERM. */
export const brokerCommand = defineCommand({
  command: 'broker',
  describe: "Run a broker for a site (the site's registry) until SIGINT or SIGTERM",
  builder: (y: Argv) =>
    withObservabilityOptions(
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
            'probe-after-ms': {
              type: 'number',
              describe:
                'Ask NATS whether a holder silent for two heartbeats and this long still listens, in ms [default: 1500 in a NATS cluster or with several URLs, else 500]',
            },
            policy: {
              type: 'string',
              choices: BALANCE_POLICIES,
              // No yargs default: the library's applies, so that the two cannot differ.
              describe:
                'How calls forwarded for thin clients are spread over instances [default: least-outstanding]',
            },
            ...limitOptions(),
            ...inFlightOptions('broker'),
          }),
          'warn',
        ),
      ),
    ).example('$0 broker --site paris --nats nats://127.0.0.1:4222', 'serve site paris'),
  async run(args, io) {
    const logger = cliLogger('broker', args, io);
    const status = statusLogger('broker', args, io);
    const metrics = metricsFor(args);
    const options: BrokerOptions = {
      ...toConnectionOptions(args, logger),
      site: args.site,
      id: args.id,
      leaseFactor: args.leaseFactor,
      sweepIntervalMs: args.sweepIntervalMs,
      probeAfterMs: args.probeAfterMs,
      policy: args.policy,
      limits: {
        maxInstances: args.maxInstances,
        maxBridgeRoutes: args.maxBridgeRoutes,
        maxMethods: args.maxMethods,
        maxMetadataBytes: args.maxMetadataBytes,
        minHeartbeatMs: args.minHeartbeatMs,
        maxHeartbeatMs: args.maxHeartbeatMs,
      },
      inFlight: inFlightLimits(args),
      metrics,
    };
    return runUntilSignal(io, {
      start: () => Broker.start(options),
      where: args.nats,
      status,
      started: (broker) => {
        status.info(`broker ${broker.id} serving site ${broker.site} on ${args.nats}`);
        return undefined;
      },
      stopping: (broker, signal) => `${signal}: stopping broker ${broker.id}`,
      observe: { args, metrics },
    });
  },
});
