/** The `switchboard` command line; `main.ts` is the executable. */
export type { CliCommand } from './command.js';
export { type CliIo, ExitCode, processIo } from './io.js';
export { run } from './main.js';
