/** Log sink of every component; replace it to route logs anywhere. Quiet by default. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Log levels, most verbose first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

type EntryLevel = Exclude<LogLevel, 'silent'>;

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

const noop = (): void => {};

/** A logger that drops everything (the default of every component). */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** A logger that passes the entries at `level` or above to `emit`. */
function leveled(
  level: LogLevel,
  emit: (entryLevel: EntryLevel, message: string, fields?: Record<string, unknown>) => void,
): Logger {
  const make =
    (name: EntryLevel) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (RANK[name] >= RANK[level]) emit(name, message, fields);
    };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}

/** Turns what JSON.stringify cannot take (errors, big integers) into what it can. */
function plain(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/** Control characters (a CR or LF among them) written as escapes, so one entry stays one line. */
function escapeControls(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x20 && code !== 0x7f) continue;
    out += `${text.slice(from, i)}\\x${code.toString(16).padStart(2, '0')}`;
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** JSON of a value; one with a cycle is written as its string. */
function toJson(value: unknown): string {
  try {
    return JSON.stringify(value, plain);
  } catch {
    return JSON.stringify(String(value));
  }
}

/**
 * A logger that writes one line per entry: `TIME LEVEL component: message key=value`.
 * @param write where lines go, e.g. `(line) => process.stderr.write(line)`.
 */
export function lineLogger(
  component: string,
  level: LogLevel,
  write: (line: string) => void,
): Logger {
  return leveled(level, (name, message, fields) => {
    let line = `${new Date().toISOString()} ${name.toUpperCase()} ${component}: ${message}`;
    for (const [k, v] of Object.entries(fields ?? {})) {
      line += ` ${k}=${typeof v === 'string' ? v : toJson(v)}`;
    }
    // What peers send can end up in a message: it must not forge lines of its own.
    write(`${escapeControls(line)}\n`);
  });
}

/**
 * A logger that writes one JSON object per line, as log collectors (ELK, Loki)
 * take them: `{"time","level","component","msg",...fields}`. A field named
 * like one of the first four is written with a `_` in front.
 * @param write where lines go, e.g. `(line) => process.stderr.write(line)`.
 */
export function jsonLogger(
  component: string,
  level: LogLevel,
  write: (line: string) => void,
): Logger {
  return leveled(level, (name, message, fields) => {
    const entry: Record<string, unknown> = {
      time: new Date().toISOString(),
      level: name,
      component,
      msg: message,
    };
    for (const [k, v] of Object.entries(fields ?? {})) entry[k in entry ? `_${k}` : k] = v;
    let line: string;
    try {
      line = JSON.stringify(entry, plain);
    } catch {
      // A field with a cycle: keep the entry, with each field as its string.
      line = JSON.stringify(entry, (key, v: unknown) =>
        key === '' || typeof v !== 'object' || v === null ? plain(key, v) : String(v),
      );
    }
    write(`${line}\n`);
  });
}

/** `logger` with `fields` added to every entry, before the entry's own. */
export function withFields(logger: Logger, fields: Record<string, unknown>): Logger {
  const add =
    (log: Logger['info']) =>
    (message: string, own?: Record<string, unknown>): void =>
      log.call(logger, message, own ? { ...fields, ...own } : fields);
  return {
    debug: add(logger.debug),
    info: add(logger.info),
    warn: add(logger.warn),
    error: add(logger.error),
  };
}
