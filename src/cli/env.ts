import type { Argv } from 'yargs';

/** Every option `--some-option` also reads `SWITCHBOARD_SOME_OPTION`. */
export const ENV_PREFIX = 'SWITCHBOARD';

/** `getOptions()` exists on every yargs 17 instance but is missing from its typings. */
interface YargsInternals {
  getOptions(): { key: Record<string, unknown> };
}

/** The options yargs knows at this point of the parse (a command's, once its builder ran). */
export function optionNames(y: Argv): string[] {
  const { key } = (y as unknown as YargsInternals).getOptions();
  return Object.keys(key);
}

/** `tls-ca` or `TLS_CA` → `tlsCa`, as yargs names parsed options. */
export function camelCase(name: string): string {
  return name.toLowerCase().replace(/[-_]+(.)/g, (_match, c: string) => c.toUpperCase());
}

/**
 * yargs' `.env()` turns every `SWITCHBOARD_*` variable into an option, and
 * `.strict()` then rejects those the command does not have, so that e.g.
 * `SWITCHBOARD_SITE` (meant for `broker`) or `SWITCHBOARD_NATS_BACKEND` (read
 * by the NATS test fixture) would break `switchboard call`. This middleware,
 * run before validation, drops options that only come from such a variable.
 */
export function ignoreForeignEnvVars(y: Argv): (argv: Record<string, unknown>) => void {
  return (argv) => {
    // The command's builder has run by now: getOptions() describes its options.
    const known = new Set(optionNames(y).map(camelCase));
    for (const [name, value] of Object.entries(process.env)) {
      if (!name.startsWith(`${ENV_PREFIX}_`)) continue;
      const key = camelCase(name.slice(ENV_PREFIX.length + 1));
      if (known.has(key) || !(key in argv)) continue;
      // Same value as the variable: it came from there, not from the command line.
      if (String(argv[key]) === value) delete argv[key];
    }
  };
}
