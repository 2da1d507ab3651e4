import type { Argv } from 'yargs';
import { checkGlobs } from '../../bridge/index.js';
import { Bridge, type BridgeOptions, type ObservabilityEndpoint } from '../../index.js';
import { seconds, withFields } from '../../util/index.js';
import { startAgent } from '../agent.js';
import { defineCommand } from '../command.js';
import {
  sideConnectionArgs,
  toConnectionOptions,
  withSharedOptions,
  withSideOptions,
} from '../connection-options.js';
import { inFlightLimits, inFlightOptions } from '../in-flight-options.js';
import { asUsage, ExitCode, UsageError } from '../io.js';
import { cliLogger, statusLogger } from '../logging.js';
import { metricsFor, observe, withObservabilityOptions } from '../observability.js';
import { watchSignals } from '../signals.js';

const LINK = 'Link:';

/** `switchboard bridge`: links two sites until SIGINT or SIGTERM. */
export const bridgeCommand = defineCommand({
  command: 'bridge',
  describe: 'Link two sites (each its own NATS) with a bridge until SIGINT or SIGTERM',
  builder: (y: Argv) =>
    withObservabilityOptions(
      withSharedOptions(
        withSideOptions(
          withSideOptions(
            y.options({
              export: {
                type: 'string',
                array: true,
                describe:
                  'Local services offered to the remote site (globs; a b or a,b) [default: all]',
                group: LINK,
              },
              import: {
                type: 'string',
                array: true,
                describe:
                  'Remote services let into the local site (globs; a b or a,b) [default: all]',
                group: LINK,
              },
              'max-hops': {
                type: 'number',
                describe: 'Longest path, in bridges crossed, of a route or a call [default: 8]',
                group: LINK,
              },
              'heartbeat-ms': {
                type: 'number',
                describe:
                  'Renewal interval of the routes advertised to each broker (one message renews them all) [default: 500]',
                group: LINK,
              },
              'refresh-ms': {
                type: 'number',
                describe: "Full resynchronisation with each site's registry, in ms [default: 5000]",
                group: LINK,
              },
              ...inFlightOptions('bridge'),
            }),
            'local',
          ),
          'remote',
        ),
        // Route changes are what a bridge operator watches.
        'info',
      ),
    )
      .example('$0 bridge --local nats://a:4222 --remote nats://b:4222', 'link sites a and b')
      .example(
        `$0 bridge --local nats://a:4222 --remote nats://b:4222 --export 'calc*,orders'`,
        'offer site b only these services of site a',
      ),
  async run(args, io) {
    const policy = { export: globs(args.export), import: globs(args.import) };
    for (const flag of ['export', 'import'] as const) {
      const list = policy[flag];
      // The library reads an empty list as "every service": refuse the ambiguity.
      if (list?.length === 0)
        throw new UsageError(`--${flag} needs at least one glob, e.g. 'calc*'`);
      if (list !== undefined) asUsage(() => checkGlobs(list, `--${flag}`));
    }
    const logger = cliLogger('bridge', args, io);
    const status = statusLogger('bridge', args, io);
    const metrics = metricsFor(args);
    const local = sideConnectionArgs(args, 'local');
    const remote = sideConnectionArgs(args, 'remote');
    // Each side's lines say which side they are about.
    const side = (name: string) => withFields(logger, { side: name });
    const options: BridgeOptions = {
      local: toConnectionOptions(local, side('local'), 'local'),
      remote: toConnectionOptions(remote, side('remote'), 'remote'),
      ...policy,
      maxHops: args.maxHops,
      heartbeatMs: args.heartbeatMs,
      refreshMs: args.refreshMs,
      inFlight: inFlightLimits(args),
      logger,
      metrics,
    };
    const shutdown = watchSignals(io);
    let endpoint: ObservabilityEndpoint | undefined;
    try {
      const where = `${local.nats} or ${remote.nats}`;
      const bridge = await startAgent(() => Bridge.start(options), where, status);
      if (bridge === undefined) return ExitCode.FAILURE;
      try {
        endpoint = await observe(args, metrics, () => [bridge]);
      } catch (err) {
        status.error(`cannot serve metrics: ${(err as Error).message}`);
        await bridge.close();
        return ExitCode.FAILURE;
      }
      shutdown.started();
      const waitMs = args.waitTimeout;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const gaveUp = new Promise<'timeout'>((resolve) => {
        if (waitMs !== undefined) timer = setTimeout(() => resolve('timeout'), waitMs);
      });
      const linked = await Promise.race([
        bridge.ready(),
        shutdown.received.then(() => false),
        gaveUp,
      ]);
      clearTimeout(timer);
      if (linked === 'timeout') {
        status.error(`gave up waiting for a broker on each side after ${seconds(waitMs ?? 0)}`);
        await bridge.close();
        return ExitCode.FAILURE;
      }
      if (linked) {
        const { local: a, remote: b } = bridge.sites;
        status.info(`bridge linked site ${a} (${local.nats}) and site ${b} (${remote.nats})`);
      } else if (!shutdown.signal.aborted) {
        // Neither linked nor stopped: both sides are one site.
        status.error(
          `--local and --remote both reach site ${bridge.sites.local}: a bridge links two sites`,
        );
        await bridge.close();
        return ExitCode.FAILURE;
      }
      const signal = await shutdown.received;
      status.info(`${signal}: stopping the bridge; withdrawing its routes`);
      await bridge.close();
      return ExitCode.OK;
    } finally {
      await endpoint?.close();
      shutdown.release();
    }
  },
});

/**
 * `--export a b`, `--export a,b` and `SWITCHBOARD_EXPORT=a,b` all mean the
 * globs `a` and `b`; none given means the link's default (every service).
 */
function globs(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  return values.flatMap((value) =>
    String(value)
      .split(',')
      .map((glob) => glob.trim())
      .filter((glob) => glob !== ''),
  );
}
