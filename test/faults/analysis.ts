/**
 * What a fault scenario's call log says: outcomes, hung calls, the journal
 * check, and the moments the issue asks about (first fast UNAVAILABLE after
 * the fault, when the calls in flight ended, when success came back above
 * 95 %). Pure: the log and the journal in, figures out.
 */

/** Index of a call that did not end in a SwitchboardError with a stable code. */
export const UNTYPED = 255;
/** Completion by its index in the log (0: none, the call succeeded). */
export const COMPLETION = ['', 'yes', 'no', 'maybe'] as const;
const NO = 2;

/** A call that fails within this long failed fast (a quarter of the 2 s deadline). */
export const FAST_MS = 500;
/** A call must settle by its deadline plus this (the issue's bound). */
export const SETTLE_SLACK_MS = 100;
/** Success is judged over windows of calls started within this long... */
export const WINDOW_MS = 500;
/** ...sliding by this step. */
export const STEP_MS = 50;
/** "Success back above 95 %". */
export const SUCCESS_RATIO = 0.95;

/** The calls of one load run, column by column (see test/support/load-role.mjs). */
export interface CallLog {
  readonly count: number;
  /** Epoch ms at which each call started. */
  readonly start: Float64Array;
  /** Epoch ms at which it settled; NaN if it never did. */
  readonly end: Float64Array;
  /** Outcome: index in `codes` (0 is `ok`), or {@link UNTYPED}. */
  readonly code: Uint8Array;
  /** Index in {@link COMPLETION}. */
  readonly completed: Uint8Array;
  /** 1 for an idempotent call. */
  readonly idempotent: Uint8Array;
  /** Outcome names: `ok`, then the error codes. */
  readonly codes: readonly string[];
}

/** Splits the file the load wrote into its columns. */
export function readCallLog(file: Buffer, count: number, codes: readonly string[]): CallLog {
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength).slice();
  const floats = (at: number) => new Float64Array(bytes.buffer, at, count);
  return {
    count,
    start: floats(0),
    end: floats(8 * count),
    code: bytes.subarray(16 * count, 17 * count),
    completed: bytes.subarray(17 * count, 18 * count),
    idempotent: bytes.subarray(18 * count, 19 * count),
    codes,
  };
}

/** When the scenario did what (epoch ms). */
export interface Moments {
  /** The fault took effect (rules in place, signal sent). */
  faultAt: number;
  /** It was undone (rules deleted, the process back and ready); `faultAt` when nothing is undone. */
  healAt: number;
  /** The load stopped starting calls. */
  endAt: number;
  deadlineMs: number;
}

/** How the calls that were in flight at some moment ended. */
export interface InFlight {
  calls: number;
  /** When the last of them settled, in ms after the moment (null: none, or one never settled). */
  lastEndedMs: number | null;
  outcomes: Record<string, number>;
}

/** Success among calls started in one window, for the record. */
export interface WindowFigure {
  /** Start of the window, in ms after the fault. */
  atMs: number;
  started: number;
  ok: number;
}

/** The figures of one scenario run; times in ms, rounded. */
export interface Figures {
  calls: number;
  /** Count per outcome: `ok`, `CODE/completion`, `untyped`, `unsettled`. */
  outcomes: Record<string, number>;
  /** Share of the calls that ended in the 2 s before the fault that succeeded. */
  successBeforeFault: number;
  /** From the fault to the first UNAVAILABLE of a call started after it that took under {@link FAST_MS}. */
  firstFastUnavailableMs: number | null;
  /** From the fault to the first UNAVAILABLE of any call. */
  firstUnavailableMs: number | null;
  /** The calls in flight when the fault struck. */
  inFlightAtFault: InFlight;
  /** The calls in flight at the first fast UNAVAILABLE (detection), timed from it. */
  inFlightAtDetection: InFlight | null;
  /** From the heal until success stays above 95 % (windows of calls started); null: it never did. */
  recoveryMs: number | null;
  /** The same, from the fault (service restored while the fault lasts, by failover). */
  recoveryFromFaultMs: number | null;
  /** Calls that settled later than deadline + 100 ms, or never. */
  hung: number;
  /** Calls that failed with anything but a SwitchboardError with a stable code. */
  untyped: number;
  /** SERVICE_NOT_FOUND answers (the service always exists in these scenarios). */
  serviceNotFound: number;
  /** Calls reported `completed: 'no'` that the journal shows ran. */
  ranThoughNo: number;
  /** Non-idempotent calls the journal shows ran more than once. */
  nonIdempotentTwice: number;
  /** Calls reported successful that the journal does not show (should be none). */
  succeededUnjournaled: number;
  /** Idempotent calls that did not succeed. */
  lostIdempotent: number;
  /** Success per window of {@link WINDOW_MS}, from a second before the fault to the end. */
  series: WindowFigure[];
}

function outcomeOf(log: CallLog, i: number): string {
  const end = log.end[i]!;
  if (Number.isNaN(end)) return 'unsettled';
  const code = log.code[i]!;
  if (code === 0) return 'ok';
  if (code === UNTYPED) return 'untyped';
  return `${log.codes[code] ?? `code#${code}`}/${COMPLETION[log.completed[i]!] ?? '?'}`;
}

function count(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

function inFlightAt(log: CallLog, at: number): InFlight {
  const outcomes: Record<string, number> = {};
  let calls = 0;
  let last = -Infinity;
  for (let i = 0; i < log.count; i++) {
    const end = log.end[i]!;
    if (log.start[i]! >= at || end < at) continue;
    calls++;
    count(outcomes, outcomeOf(log, i));
    last = Number.isNaN(end) ? Number.NaN : Math.max(last, end);
  }
  const lastEndedMs = calls === 0 || Number.isNaN(last) ? null : Math.round(last - at);
  return { calls, lastEndedMs, outcomes };
}

/** Calls started and succeeded per {@link STEP_MS} bucket from `from` to `to`. */
function buckets(log: CallLog, from: number, to: number): { started: number[]; ok: number[] } {
  const n = Math.max(0, Math.ceil((to - from) / STEP_MS));
  const started = new Array<number>(n).fill(0);
  const ok = new Array<number>(n).fill(0);
  for (let i = 0; i < log.count; i++) {
    const b = Math.floor((log.start[i]! - from) / STEP_MS);
    if (b < 0 || b >= n) continue;
    started[b]!++;
    if (log.code[i] === 0 && !Number.isNaN(log.end[i]!)) ok[b]!++;
  }
  return { started, ok };
}

/**
 * How long after `from` success stays at or above 95 %: the start of the
 * first window after which every window of calls started (a window with no
 * call started counts as failed) succeeds at 95 % or more. Null when the
 * last window still fails.
 */
export function recoveredAfter(log: CallLog, from: number, to: number): number | null {
  const { started, ok } = buckets(log, from, to);
  const width = WINDOW_MS / STEP_MS;
  const windows = started.length - width + 1;
  if (windows <= 0) return null;
  let lastBad = -1;
  for (let w = 0; w < windows; w++) {
    let s = 0;
    let k = 0;
    for (let b = w; b < w + width; b++) {
      s += started[b]!;
      k += ok[b]!;
    }
    if (s === 0 || k / s < SUCCESS_RATIO) lastBad = w;
  }
  if (lastBad === windows - 1) return null;
  return (lastBad + 1) * STEP_MS;
}

function series(log: CallLog, from: number, to: number): WindowFigure[] {
  const { started, ok } = buckets(log, from, to);
  const width = WINDOW_MS / STEP_MS;
  const out: WindowFigure[] = [];
  for (let w = 0; w + width <= started.length; w += width) {
    const sum = (xs: number[]) => xs.slice(w, w + width).reduce((a, b) => a + b, 0);
    out.push({ atMs: w * STEP_MS - 1000, started: sum(started), ok: sum(ok) });
  }
  return out;
}

/** The figures of a run: `journal` maps each token (call sequence number) to the times it ran. */
export function analyse(
  log: CallLog,
  journal: ReadonlyMap<number, number>,
  moments: Moments,
): Figures {
  const { faultAt, healAt, endAt, deadlineMs } = moments;
  const notFound = log.codes.indexOf('SERVICE_NOT_FOUND');
  const unavailable = log.codes.indexOf('UNAVAILABLE');
  const outcomes: Record<string, number> = {};
  let hung = 0;
  let untyped = 0;
  let serviceNotFound = 0;
  let ranThoughNo = 0;
  let nonIdempotentTwice = 0;
  let succeededUnjournaled = 0;
  let lostIdempotent = 0;
  let firstFast = Infinity;
  let firstAny = Infinity;
  let before = 0;
  let beforeOk = 0;
  for (let i = 0; i < log.count; i++) {
    const start = log.start[i]!;
    const end = log.end[i]!;
    const code = log.code[i]!;
    const ran = journal.get(i) ?? 0;
    count(outcomes, outcomeOf(log, i));
    if (Number.isNaN(end) || end - start > deadlineMs + SETTLE_SLACK_MS) hung++;
    if (code === UNTYPED) untyped++;
    if (code === notFound) serviceNotFound++;
    if (code !== 0 && log.completed[i] === NO && ran > 0) ranThoughNo++;
    if (log.idempotent[i] === 0 && ran > 1) nonIdempotentTwice++;
    if (code === 0 && !Number.isNaN(end) && ran === 0) succeededUnjournaled++;
    if (log.idempotent[i] === 1 && (code !== 0 || Number.isNaN(end))) lostIdempotent++;
    if (end >= faultAt - 2000 && end < faultAt) {
      before++;
      if (code === 0) beforeOk++;
    }
    if (code === unavailable && end >= faultAt) {
      firstAny = Math.min(firstAny, end);
      if (start >= faultAt && end - start < FAST_MS) firstFast = Math.min(firstFast, end);
    }
  }
  const ms = (t: number) => (Number.isFinite(t) ? Math.round(t - faultAt) : null);
  const recovery = recoveredAfter(log, healAt, endAt);
  const fromFault = recoveredAfter(log, faultAt, endAt);
  return {
    calls: log.count,
    outcomes,
    successBeforeFault: before === 0 ? 0 : beforeOk / before,
    firstFastUnavailableMs: ms(firstFast),
    firstUnavailableMs: ms(firstAny),
    inFlightAtFault: inFlightAt(log, faultAt),
    inFlightAtDetection: Number.isFinite(firstFast) ? inFlightAt(log, firstFast) : null,
    recoveryMs: recovery,
    recoveryFromFaultMs: fromFault,
    hung,
    untyped,
    serviceNotFound,
    ranThoughNo,
    nonIdempotentTwice,
    succeededUnjournaled,
    lostIdempotent,
    series: series(log, faultAt - 1000, endAt),
  };
}
