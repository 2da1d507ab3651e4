import { describe, expect, test } from 'vitest';
import { explainFailure, NO_COMMAND } from '../../src/cli/usage.js';

const COMMANDS = ['broker', 'call <target> [args..]', 'ls'];

/** explainFailure for the command line `argv`, with the options of `call`. */
function explain(message: string, argv: string[]) {
  return explainFailure(message, {
    argv,
    commands: COMMANDS,
    options: ['timeout', 'json', 'nats', 'help', 'version'],
  });
}

describe('usage', () => {
  test('usage - yargs messages become one line for the command they concern', () => {
    expect(explain('Unknown argument: timout', ['call', 'x.y', '--timout', '1'])).toEqual({
      command: 'call',
      line: 'unknown option --timout (did you mean --timeout?)',
    });
    expect(explain('Unknown arguments: jsno, extra', ['call', 'x.y', 'extra', '--jsno'])).toEqual({
      command: 'call',
      line: "unknown option --jsno (did you mean --json?); unexpected argument 'extra'",
    });
    expect(explain('Unknown argument: brokr', ['brokr'])).toEqual({
      command: '',
      line: "unknown command 'brokr' (did you mean broker?)",
    });
    expect(explain(NO_COMMAND, [])).toEqual({
      command: '',
      line: 'name a command: broker, call, ls',
    });
  });

  test('usage - missing arguments and values are named', () => {
    expect(explain('Not enough non-option arguments: got 0, need at least 1', ['call']).line).toBe(
      'missing <target> (usage: switchboard call <target> [args..])',
    );
    expect(explain('Missing required argument: site', ['broker']).line).toBe('--site is required');
    expect(explain('Missing required arguments: local, remote', ['broker']).line).toBe(
      '--local and --remote are required',
    );
    expect(explain('Not enough arguments following: nats', ['ls', '--nats']).line).toBe(
      '--nats needs a value',
    );
  });

  test('usage - a value outside the choices lists them, with the nearest', () => {
    const message =
      'Invalid values:\n  Argument: log-level, Given: "warning", Choices: "debug", "info", "warn", "error", "silent"';
    expect(explain(message, ['ls', '--log-level', 'warning']).line).toBe(
      "--log-level must be one of debug, info, warn, error, silent, not 'warning' (did you mean warn?)",
    );
  });

  test('usage - a message it does not know is kept, first line only', () => {
    expect(explain('Something new\nwith details', ['ls']).line).toBe('Something new');
  });
});
