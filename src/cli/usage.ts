/**
 * yargs' validation messages as one line in plain words, with "did you mean"
 * for commands, options and choices. yargs runs with its English strings
 * (`locale('en')`), so the messages read here are always these.
 */
import { closest } from '../util/index.js';

/** What yargs reports when no command is named (the text given to `demandCommand`). */
export const NO_COMMAND = 'name a command';

/** Where a command line failed, for {@link explainFailure}. */
export interface FailureContext {
  /** The command line, without `node` and the script. */
  argv: readonly string[];
  /** Every command's yargs definition (`call <target> [args..]`). */
  commands: readonly string[];
  /** The options known where the line failed (a command's own, once it is named), without `--`. */
  options: readonly string[];
  /** The subcommands of each command that has some (`secure` → `init`). */
  subcommands?: Readonly<Record<string, readonly string[]>>;
}

/** The name of a command definition: `call <target> [args..]` → `call`. */
export function commandName(definition: string): string {
  return definition.split(' ')[0] ?? definition;
}

/** A failure as `switchboard COMMAND: LINE` says it; `command` is '' before one is named. */
export interface Explained {
  command: string;
  line: string;
}

/** ` (did you mean X?)` when there is an X, else ''. */
function didYouMean(suggestion: string | undefined): string {
  return suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`;
}

/** Whether `name` (as yargs reports it) was written as an option: `--name`, `--name=x`, `-n`. */
function writtenAsOption(argv: readonly string[], name: string): boolean {
  return argv.some(
    (token) =>
      token === `--${name}` ||
      token.startsWith(`--${name}=`) ||
      token === `--no-${name}` ||
      token === `-${name}`,
  );
}

/** The `<required>` positionals of a command definition, in order. */
function requiredPositionals(definition: string): string[] {
  return [...definition.matchAll(/<([^>]+)>/g)].map((m) => m[1] ?? '');
}

/**
 * Turns a yargs validation message into the command it concerns and one line
 * naming what is wrong, e.g. `unknown option --timout (did you mean --timeout?)`.
 */
export function explainFailure(message: string, context: FailureContext): Explained {
  const names = context.commands.map(commandName);
  const first = context.argv.find((token) => !token.startsWith('-'));
  const definition = context.commands.find((c) => commandName(c) === first);
  const command = definition === undefined ? '' : commandName(definition);
  const flag = (name: string) => `--${name}`;
  const explained = (line: string): Explained => ({ command, line });

  if (message === NO_COMMAND) return explained(`${NO_COMMAND}: ${names.join(', ')}`);

  const unknown = /^Unknown (?:arguments?|commands?): (.*)$/.exec(message);
  if (unknown) {
    const unknowns = (unknown[1] ?? '').split(', ');
    // Without a known command, its options are no news: name the command.
    if (command === '' && first !== undefined && unknowns.includes(first)) {
      return explained(`unknown command '${first}'${didYouMean(closest(first, names))}`);
    }
    const subcommands = context.subcommands?.[command];
    const second = context.argv.filter((token) => !token.startsWith('-'))[1];
    if (subcommands && second !== undefined && unknowns.includes(second)) {
      const line = `unknown command '${command} ${second}'`;
      return explained(`${line}${didYouMean(closest(second, [...subcommands]))}`);
    }
    const parts = unknowns.map((name) => {
      if (writtenAsOption(context.argv, name)) {
        const suggestion = closest(name, context.options);
        return `unknown option ${flag(name)}${didYouMean(suggestion && flag(suggestion))}`;
      }
      return `unexpected argument '${name}'`;
    });
    return explained(parts.join('; '));
  }

  const notEnough = /^Not enough non-option arguments: got (\d+), need at least (\d+)$/.exec(
    message,
  );
  if (notEnough && definition !== undefined) {
    const missing = requiredPositionals(definition).slice(Number(notEnough[1]));
    const what = missing.map((name) => `<${name}>`).join(' and ');
    return explained(`missing ${what} (usage: switchboard ${definition})`);
  }

  const required = /^Missing required arguments?: (.*)$/.exec(message);
  if (required) {
    const flags = (required[1] ?? '').split(', ').map(flag);
    return explained(`${flags.join(' and ')} ${flags.length === 1 ? 'is' : 'are'} required`);
  }

  const invalid = /Argument: (\S+), Given: "(.*)", Choices: (.*)$/m.exec(message);
  if (invalid) {
    const [, name = '', given = '', list = ''] = invalid;
    const choices = [...list.matchAll(/"([^"]*)"/g)].map((m) => m[1] ?? '');
    const line = `${flag(name)} must be one of ${choices.join(', ')}, not '${given}'`;
    return explained(`${line}${didYouMean(closest(given, choices))}`);
  }

  const noValue = /^Not enough arguments following: (\S+)$/.exec(message);
  if (noValue) return explained(`${flag(noValue[1] ?? '')} needs a value`);

  return explained(message.split('\n')[0] ?? message);
}
