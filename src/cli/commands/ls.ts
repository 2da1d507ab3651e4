import type { Argv } from 'yargs';
import { Client, lineLogger } from '../../index.js';
import { defineCommand } from '../command.js';
import {
  connectFailure,
  toConnectionOptions,
  withConnectionOptions,
} from '../connection-options.js';
import {
  asSwitchboardError,
  instanceCount,
  listingLines,
  reportError,
  siteListing,
  toJson,
} from '../format.js';
import { ExitCode, usageError } from '../io.js';

/**
 * `switchboard ls`: the instances at the client's own site, or with `--mesh`
 * everything reachable through bridges too, as a table or JSON.
 */
export const lsCommand = defineCommand({
  command: 'ls',
  describe: 'List the services of the site with their versions, methods and instances',
  builder: (y: Argv) =>
    withConnectionOptions(
      y.options({
        json: {
          type: 'boolean',
          default: false,
          describe: 'Print the listing (or the error) as JSON',
        },
        mesh: {
          type: 'boolean',
          default: false,
          describe: 'Also list what is reachable through bridges, with its site and path',
        },
        timeout: { type: 'number', default: 5000, describe: 'Milliseconds the broker may take' },
      }),
      'error',
    )
      .example('$0 ls --nats nats://127.0.0.1:4222', 'the instances at this site')
      .example('$0 ls --mesh', 'every service the mesh reaches from here, and through which sites'),
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
      const mesh = { site, services };
      const listing = args.mesh ? mesh : siteListing(mesh);
      if (args.json) {
        io.stdout(`${toJson(listing)}\n`);
        return ExitCode.OK;
      }
      const lines = [`site ${listing.site}`, ...listingLines(listing, args.mesh)];
      const elsewhere = instanceCount(mesh) - instanceCount(listing);
      if (elsewhere > 0) {
        lines.push(`(${elsewhere} more reachable through bridges: switchboard ls --mesh)`);
      }
      io.stdout(`${lines.join('\n')}\n`);
      return ExitCode.OK;
    } catch (err) {
      return reportError(asSwitchboardError(err), args.json, io);
    } finally {
      await client.close();
    }
  },
});
