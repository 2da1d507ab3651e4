import type { Argv } from 'yargs';
import { Bridge, type BridgeOptions, lineLogger } from '../../index.js';
import { defineCommand } from '../command.js';
import {
  connectFailure,
  sideConnectionArgs,
  toConnectionOptions,
  withSharedOptions,
  withSideOptions,
} from '../connection-options.js';
import { describeError } from '../format.js';
import { type CliIo, ExitCode, usageError } from '../io.js';
import { watchSignals } from '../signals.js';

const LINK = 'Link:';
/** After this long without both NATS connections, say what the bridge is waiting for. */
const CONNECTING_NOTICE_MS = 2000;

/** `switchboard bridge`: links two sites until SIGINT or SIGTERM. */
export const bridgeCommand = defineCommand({
  command: 'bridge',
  describe: 'Link two sites (each its own NATS) with a bridge until SIGINT or SIGTERM',
  builder: (y: Argv) =>
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
                'Heartbeat interval of the routes advertised to each broker [default: 1000]',
              group: LINK,
            },
            'refresh-ms': {
              type: 'number',
              describe: "Full resynchronisation with each site's registry, in ms [default: 5000]",
              group: LINK,
            },
          }),
          'local',
        ),
        'remote',
      ),
      // Route changes are what a bridge operator watches.
      'info',
    )
      .example('$0 bridge --local nats://a:4222 --remote nats://b:4222', 'link sites a and b')
      .example(
        `$0 bridge --local nats://a:4222 --remote nats://b:4222 --export 'calc*,orders'`,
        'offer site b only these services of site a',
      ),
  async run(args, io) {
    const policy = { export: globs(args.export), import: globs(args.import) };
    for (const flag of ['export', 'import'] as const) {
      // The library reads an empty list as "every service": refuse the ambiguity.
      if (policy[flag]?.length === 0) {
        return usageError(io, 'bridge', `--${flag} needs at least one glob, e.g. 'calc*'`);
      }
    }
    const logger = lineLogger('bridge', args.logLevel, io.stderr);
    const local = sideConnectionArgs(args, 'local');
    const remote = sideConnectionArgs(args, 'remote');
    const options: BridgeOptions = {
      local: toConnectionOptions(local, logger),
      remote: toConnectionOptions(remote, logger),
      ...policy,
      maxHops: args.maxHops,
      heartbeatMs: args.heartbeatMs,
      refreshMs: args.refreshMs,
      logger,
    };
    const shutdown = watchSignals(io);
    try {
      let bridge: Bridge;
      // Bridge.start() retries until both NATS answer; do not leave the terminal silent.
      const slow = setTimeout(
        () => io.stderr(`waiting for NATS at ${local.nats} and ${remote.nats}\n`),
        CONNECTING_NOTICE_MS,
      );
      try {
        bridge = await Bridge.start(options);
      } catch (err) {
        if (err instanceof TypeError) return usageError(io, 'bridge', err.message);
        io.stderr(`${describeError(connectFailure(`${local.nats} or ${remote.nats}`, err))}\n`);
        return ExitCode.FAILURE;
      } finally {
        clearTimeout(slow);
      }
      shutdown.started();
      const linked = await Promise.race([bridge.ready(), shutdown.received.then(() => false)]);
      if (linked) {
        const { local: a, remote: b } = bridge.sites;
        io.stderr(`bridge linked site ${a} (${local.nats}) and site ${b} (${remote.nats})\n`);
      } else if (!shutdown.signal.aborted) {
        // Neither linked nor stopped: both sides are one site.
        io.stderr(
          `--local and --remote both reach site ${bridge.sites.local}: a bridge links two sites\n`,
        );
        await bridge.close();
        return ExitCode.FAILURE;
      }
      return await stopOnSignal(bridge, shutdown.received, io);
    } finally {
      shutdown.release();
    }
  },
});

async function stopOnSignal(
  bridge: Bridge,
  received: Promise<NodeJS.Signals>,
  io: CliIo,
): Promise<number> {
  const signal = await received;
  io.stderr(`${signal}: stopping the bridge; withdrawing its routes\n`);
  await bridge.close();
  return ExitCode.OK;
}

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
