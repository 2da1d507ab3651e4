import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { CliIo } from './io.js';

/** One subcommand: its yargs definition and what it does, returning the exit code. */
export interface CliCommand<U> {
  /** yargs command string, e.g. `call <target> [args..]`. */
  readonly command: string;
  readonly describe: string;
  /** Declares the options; type the parameter (`y: Argv`) so that `U` is inferred from it. */
  builder(y: Argv): Argv<U>;
  run(args: ArgumentsCamelCase<U>, io: CliIo): Promise<number>;
}

/** Identity, for type inference of `U` from the builder. */
export function defineCommand<U>(command: CliCommand<U>): CliCommand<U> {
  return command;
}

/** A command made of subcommands, as `switchboard secure init`. */
export interface CliCommandGroup {
  /** yargs command string of the group, e.g. `secure`. */
  readonly command: string;
  readonly describe: string;
  readonly subcommands: readonly CliCommand<unknown>[];
}

/** Identity, for symmetry with {@link defineCommand}. */
export function defineGroup(group: CliCommandGroup): CliCommandGroup {
  return group;
}
