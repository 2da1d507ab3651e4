import type { Argv } from 'yargs';
import { Client, lineLogger } from '../../index.js';
import { defineCommand } from '../command.js';
import {
  connectFailure,
  toConnectionOptions,
  withConnectionOptions,
} from '../connection-options.js';
import { asSwitchboardError, listingLines, reportError, toJson } from '../format.js';
import { ExitCode, usageError } from '../io.js';

/** `switchboard ls`: the site registry, as a table or JSON. */
export const lsCommand = defineCommand({
  command: 'ls',
  describe: 'List the services of the site registry with their versions, methods and instances',
  builder: (y: Argv) =>
    withConnectionOptions(
      y.options({
        json: {
          type: 'boolean',
          default: false,
          describe: 'Print the listing (or the error) as JSON',
        },
        timeout: { type: 'number', default: 5000, describe: 'Milliseconds the broker may take' },
      }),
      'error',
    ),
  async run(args, io) {
    if (!(args.timeout > 0)) {
      return usageError(io, 'ls', `--timeout must be a positive number of ms, got ${args.timeout}`);
    }
    const logger = lineLogger('client', args.logLevel, io.stderr);
    let client: Client;
    try {
      client = await Client.connect({
        ...toConnectionOptions(args, logger),
        timeoutMs: args.timeout,
      });
    } catch (err) {
      if (err instanceof TypeError) return usageError(io, 'ls', err.message);
      return reportError(connectFailure(args.nats, err), args.json, io);
    }
    try {
      const { site, services } = await client.list();
      if (args.json) io.stdout(`${toJson({ site, services })}\n`);
      else io.stdout(`site ${site}\n${listingLines({ site, services }).join('\n')}\n`);
      return ExitCode.OK;
    } catch (err) {
      return reportError(asSwitchboardError(err), args.json, io);
    } finally {
      await client.close();
    }
  },
});
