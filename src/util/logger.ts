/** Log sink of every component; replace it to route logs anywhere. Quiet by default. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Log levels, most verbose first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

const noop = (): void => {};

/** A logger that drops everything (the default of every component). */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * A logger that writes one line per entry: `LEVEL component: message key=value`.
 * @param write where lines go, e.g. `(line) => process.stderr.write(line)`.
 */
export function lineLogger(
  component: string,
  level: LogLevel,
  write: (line: string) => void,
): Logger {
  const make =
    (name: Exclude<LogLevel, 'silent'>) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (RANK[name] < RANK[level]) return;
      let line = `${new Date().toISOString()} ${name.toUpperCase()} ${component}: ${message}`;
      if (fields) {
        for (const [k, v] of Object.entries(fields)) {
          line += ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
        }
      }
      write(`${line}\n`);
    };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}
