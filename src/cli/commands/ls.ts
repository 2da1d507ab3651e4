import type { Argv } from 'yargs';
import { withClient } from '../client-session.js';
import { defineCommand } from '../command.js';
import { withConnectionOptions } from '../connection-options.js';
import { instanceCount, listingLines, siteListing, toJson } from '../format.js';
import { ExitCode } from '../io.js';

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
    return withClient(args, io, {}, async (client) => {
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
    });
  },
});
