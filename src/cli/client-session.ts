import { Client, type ClientOptions } from '../index.js';
import { type ConnectionArgs, connectFailure, toConnectionOptions } from './connection-options.js';
import { asSwitchboardError, reportError } from './format.js';
import { type CliIo, throwIfUsage, UsageError } from './io.js';
import { cliLogger, type LogArgs } from './logging.js';

/** What the one-shot client commands (`call`, `ls`) share on their command line. */
export interface ClientSessionArgs extends ConnectionArgs, LogArgs {
  timeout: number;
  json: boolean;
}

/**
 * Connects a client for one command, runs `use` with it and closes it: bad
 * options are usage errors (exit 2), failures are reported as `CODE: message`
 * (or JSON) with exit 1.
 */
export async function withClient(
  args: ClientSessionArgs,
  io: CliIo,
  options: Omit<ClientOptions, keyof ReturnType<typeof toConnectionOptions>>,
  use: (client: Client) => Promise<number>,
): Promise<number> {
  if (!(args.timeout > 0)) {
    throw new UsageError(`--timeout must be a positive number of ms, got ${args.timeout}`);
  }
  const connection = toConnectionOptions(args, cliLogger('client', args, io));
  let client: Client;
  try {
    client = await Client.connect({ ...connection, timeoutMs: args.timeout, ...options });
  } catch (err) {
    throwIfUsage(err);
    return reportError(connectFailure(args.nats, err), args.json, io);
  }
  try {
    return await use(client);
  } catch (err) {
    return reportError(asSwitchboardError(err), args.json, io);
  } finally {
    await client.close();
  }
}
