import type { Logger } from './logger.js';

/** Options of {@link throttled}. */
export interface ThrottleOptions {
  /** Lines of one kind let through per window. @default 5 */
  burst?: number;
  /** Length of the window, in milliseconds. @default 10000 */
  windowMs?: number;
  /** Clock. @default Date.now */
  now?: () => number;
}

/** Kinds of line tracked at most; past it the oldest window is forgotten. */
const MAX_KINDS = 256;

/**
 * A logger that lets through at most `burst` lines of each kind per window,
 * for what peers on the network can make us say as often as they like (bad
 * input). A line's kind is its level and the message up to its first colon
 * or quote, so lines naming different values still count as one kind; the
 * first line let through after a quiet spell says how many were held back.
 */
export function throttled(logger: Logger, options: ThrottleOptions = {}): Logger {
  const burst = options.burst ?? 5;
  const windowMs = options.windowMs ?? 10_000;
  const now = options.now ?? Date.now;
  const windows = new Map<string, { start: number; count: number; dropped: number }>();
  const limit =
    (level: keyof Logger) =>
    (message: string, fields?: Record<string, unknown>): void => {
      const kind = `${level}:${/^[^:'"]*/.exec(message)?.[0] ?? message}`;
      const t = now();
      let w = windows.get(kind);
      if (!w || t - w.start >= windowMs) {
        const dropped = w?.dropped ?? 0;
        if (!w && windows.size >= MAX_KINDS) windows.delete(windows.keys().next().value!);
        w = { start: t, count: 0, dropped: 0 };
        windows.set(kind, w);
        if (dropped > 0) fields = { ...fields, suppressed: dropped };
      }
      if (w.count >= burst) {
        w.dropped++;
        return;
      }
      w.count++;
      logger[level](message, fields);
    };
  return {
    debug: limit('debug'),
    info: limit('info'),
    warn: limit('warn'),
    error: limit('error'),
  };
}
