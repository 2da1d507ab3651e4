import { Client, type ClientOptions, type LogLevel, lineLogger } from '../index.js';
import { type ConnectionArgs, connectFailure, toConnectionOptions } from './connection-options.js';
import { asSwitchboardError, reportError } from './format.js';
import { type CliIo, usageError } from './io.js';

/** What the one-shot client commands (`call`, `ls`) share on their command line. */
export interface ClientSessionArgs extends ConnectionArgs {
  timeout: number;
  json: boolean;
  logLevel: LogLevel;
}

/**
 * Connects a client for one command, runs `use` with it and closes it: bad
 * options are usage errors (exit 2), failures are reported as `CODE: message`
 * (or JSON) with exit 1.
 */
export async function withClient(
  command: string,
  args: ClientSessionArgs,
  io: CliIo,
  options: Omit<ClientOptions, keyof ReturnType<typeof toConnectionOptions>>,
  use: (client: Client) => Promise<number>,
): Promise<number> {
  if (!(args.timeout > 0)) {
    return usageError(
      io,
      command,
      `--timeout must be a positive number of ms, got ${args.timeout}`,
    );
  }
  const logger = lineLogger('client', args.logLevel, io.stderr);
  let client: Client;
  try {
    client = await Client.connect({
      ...toConnectionOptions(args, logger),
      timeoutMs: args.timeout,
      ...options,
    });
  } catch (err) {
    if (err instanceof TypeError) return usageError(io, command, err.message);
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
