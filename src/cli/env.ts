import type { Argv } from 'yargs';

/** Every option `--some-option` also reads `SWITCHBOARD_SOME_OPTION`. */
export const ENV_PREFIX = 'SWITCHBOARD';

/** What yargs 17 knows of the options; `getOptions()` is missing from its typings. */
interface YargsOptions {
  /** Every option, by its own name and by each alias. */
  key: Record<string, unknown>;
  /** Aliases by option name. */
  alias: Record<string, string[]>;
  default: Record<string, unknown>;
  /** Options of type number, and of type boolean. */
  number: string[];
  boolean: string[];
}

interface YargsInternals {
  getOptions(): YargsOptions;
}

/** The options yargs knows at this point of the parse (a command's, once its builder ran). */
export function optionNames(y: Argv): string[] {
  return Object.keys((y as unknown as YargsInternals).getOptions().key);
}

/** `tls-ca` or `TLS_CA` → `tlsCa`, as yargs names parsed options. */
export function camelCase(name: string): string {
  return name.toLowerCase().replace(/[-_]+(.)/g, (_match, c: string) => c.toUpperCase());
}

/** `tls-ca` → `SWITCHBOARD_TLS_CA`. */
function variableOf(option: string): string {
  return `${ENV_PREFIX}_${option.replace(/-/g, '_').toUpperCase()}`;
}

/**
 * yargs' `.env()` turns every `SWITCHBOARD_*` variable into an option, and
 * `.strict()` then rejects those the command does not have, so that e.g.
 * `SWITCHBOARD_SITE` (meant for `broker`) or `SWITCHBOARD_NATS_BACKEND` (read
 * by the NATS test fixture) would break `switchboard call`. This middleware,
 * run before validation, drops options that only come from such a variable.
 *
 * An option reads the variable of its own name only, never one named after
 * an alias: `SWITCHBOARD_HOST`, meant for `up --host`, must not move the
 * dashboard (whose `--dashboard-host` has the alias `--host`) off loopback.
 * yargs sets an option and its aliases together, so such a variable's value
 * is taken back from all of them, and the option gets what it would have had
 * without it: its own variable, else its default. `args` is the command line,
 * where a given option always wins.
 */
export function ignoreForeignEnvVars(
  y: Argv,
  args: readonly string[],
): (argv: Record<string, unknown>) => void {
  return (argv) => {
    // The command's builder has run by now: getOptions() describes its options.
    const options = (y as unknown as YargsInternals).getOptions();
    // yargs lists aliases among the options: an option's own names are the others.
    const aliases = new Set(Object.values(options.alias).flat().map(camelCase));
    const own = new Set(
      Object.keys(options.key)
        .map(camelCase)
        .filter((name) => !aliases.has(name)),
    );
    for (const [variable, value] of Object.entries(process.env)) {
      if (!variable.startsWith(`${ENV_PREFIX}_`)) continue;
      const key = camelCase(variable.slice(ENV_PREFIX.length + 1));
      if (own.has(key) || !(key in argv)) continue;
      const option = Object.keys(options.alias).find(
        (name) =>
          own.has(camelCase(name)) && options.alias[name]?.some((a) => camelCase(a) === key),
      );
      if (option === undefined) {
        // Same value as the variable: it came from there, not from the command line.
        if (String(argv[key]) === value) delete argv[key];
        continue;
      }
      // An alias's variable: whatever yargs made of its value (`08080` is 8080),
      // it is taken back unless the option was given on the command line.
      const names = [option, ...(options.alias[option] ?? [])];
      if (givenOnCommandLine(args, names)) continue;
      const restored = typed(options, option, process.env[variableOf(option)]);
      for (const name of names) {
        for (const form of [name, camelCase(name)]) {
          if (restored === undefined) delete argv[form];
          else argv[form] = restored;
        }
      }
    }
  };
}

/**
 * What `option` gets back: its own variable's value, typed as yargs types it
 * (numbers and booleans; no aliased option is an array or coerced), else its
 * default.
 */
function typed(options: YargsOptions, option: string, value: string | undefined): unknown {
  if (value === undefined) return options.default[option];
  if (options.number.includes(option)) return Number(value);
  if (options.boolean.includes(option)) return value !== 'false';
  return value;
}

/** Whether `args` (up to a `--`) set one of `names` as `--name`, `--name=…` or `--no-name`. */
function givenOnCommandLine(args: readonly string[], names: readonly string[]): boolean {
  const end = args.indexOf('--');
  const flags = (end === -1 ? args : args.slice(0, end)).filter((arg) => arg.startsWith('--'));
  return names.some((name) =>
    [name, camelCase(name)].some((form) =>
      flags.some(
        (flag) => flag === `--${form}` || flag.startsWith(`--${form}=`) || flag === `--no-${form}`,
      ),
    ),
  );
}
