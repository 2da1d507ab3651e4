import type { Argv } from 'yargs';
import { withClient } from '../client-session.js';
import { defineCommand } from '../command.js';
import { withConnectionOptions } from '../connection-options.js';
import { toJson } from '../format.js';
import { ExitCode, UsageError } from '../io.js';

const TARGET = /^([^.\s]+)\.([^.\s]+)$/;

/** `switchboard call SERVICE.METHOD [ARGS...]`: one call, its result as JSON on stdout. */
export const callCommand = defineCommand({
  command: 'call <target> [args..]',
  describe: 'Call SERVICE.METHOD with JSON arguments and print the result as JSON',
  builder: (y: Argv) =>
    withConnectionOptions(
      y
        .positional('target', {
          type: 'string',
          demandOption: true,
          describe: 'SERVICE.METHOD, e.g. calculator.add',
        })
        .positional('args', {
          type: 'string',
          array: true,
          default: [] as string[],
          describe: `Arguments, each a JSON value: 1, '"text"', '{"a":1}'`,
        })
        .options({
          timeout: { type: 'number', default: 5000, describe: 'Milliseconds the call may take' },
          json: {
            type: 'boolean',
            default: false,
            describe: 'On failure, print the error object as JSON on stdout',
          },
          'via-broker': {
            type: 'boolean',
            default: false,
            describe: "Send the call through the site's broker (a thin client)",
          },
          'service-version': {
            type: 'string',
            describe: 'Version range of the service, e.g. ^1.0.0 [default: any]',
          },
        }),
      'error',
    )
      .example('$0 call calculator.add 1 2', 'prints 3')
      .example(`$0 call greeter.hello '"world"' --timeout 500`, 'a string argument'),
  async run(args, io) {
    const target = TARGET.exec(args.target);
    if (!target) throw new UsageError(`target must be SERVICE.METHOD, got '${args.target}'`);
    const [, service = '', method = ''] = target;
    const values: unknown[] = [];
    for (const [i, raw] of args.args.entries()) {
      try {
        values.push(JSON.parse(raw));
      } catch {
        throw new UsageError(
          `argument ${i + 1} is not a JSON value: ${raw} (quote strings twice: '"${raw}"')`,
        );
      }
    }
    return withClient(args, io, { viaBroker: args.viaBroker }, async (client) => {
      const result = await client.call(service, method, values, {
        version: args.serviceVersion,
      });
      io.stdout(`${toJson(result)}\n`);
      return ExitCode.OK;
    });
  },
});
