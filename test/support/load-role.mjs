/**
 * The load of the fault suite (role `load` of component.mjs): `concurrency`
 * workers, each calling the `counter` service in a loop with a unique token
 * per call (its sequence number), every other call idempotent (`get`) and the
 * rest not (`add`), each with a deadline of `deadlineMs`. A paced worker
 * starts a call at most every `periodMs`; a tight one (`periodMs: 0`) calls
 * again the moment a call ends, with no pause. Besides the workers, an open
 * stream starts one call every `streamMs` whatever became of the others, so
 * that a moment (the first fast failure, the return of success) is seen when
 * it happens even while every worker waits out a deadline.
 *
 * Every call is logged (start, end, outcome, completion, idempotence) in
 * typed arrays, written to `config.log` at the end as five columns:
 * start f64[n], end f64[n] (NaN: never settled), code u8[n] (index in
 * `codes`, 255: not a SwitchboardError with a stable code), completed u8[n]
 * (0 none, 1 yes, 2 no, 3 maybe), idempotent u8[n].
 *
 * Workers stop starting calls at `endAt`, which `run` sets and `setEnd` moves;
 * they read the clock, not a timer, so a loop that starves the event loop
 * still ends.
 */
import { writeFileSync } from 'node:fs';

const UNTYPED = 255;
const COMPLETED = { yes: 1, no: 2, maybe: 3 };

/** Growable columns of the call log. */
export class CallLog {
  count = 0;
  start = new Float64Array(1024);
  end = new Float64Array(1024);
  code = new Uint8Array(1024);
  completed = new Uint8Array(1024);
  idempotent = new Uint8Array(1024);

  begin(idempotent) {
    if (this.count === this.start.length) this.#grow();
    const seq = this.count++;
    this.start[seq] = Date.now();
    this.end[seq] = Number.NaN;
    this.idempotent[seq] = idempotent ? 1 : 0;
    return seq;
  }

  settle(seq, code, completed) {
    this.end[seq] = Date.now();
    this.code[seq] = code;
    this.completed[seq] = completed;
  }

  #grow() {
    for (const column of ['start', 'end', 'code', 'completed', 'idempotent']) {
      const next = new this[column].constructor(this[column].length * 2);
      next.set(this[column]);
      this[column] = next;
    }
  }

  write(path) {
    const n = this.count;
    const columns = [this.start, this.end, this.code, this.completed, this.idempotent].map(
      (column) => Buffer.from(column.buffer, 0, n * column.BYTES_PER_ELEMENT),
    );
    writeFileSync(path, Buffer.concat(columns));
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @param sb the library (dist/internal.js)
 * @param config `{ log: path, deadlineMs?, concurrency?, periodMs? }`
 * @param connection the component's connection options
 */
export async function loadRole(sb, config, connection) {
  const deadlineMs = config.deadlineMs ?? 2000;
  const concurrency = config.concurrency ?? 50;
  const client = await sb.Client.connect({ ...connection, timeoutMs: deadlineMs });
  const codes = ['ok', ...Object.values(sb.ErrorCode)];
  const log = new CallLog();
  /** Up to three messages per outcome, for the report. */
  const samples = {};
  let endAt = 0;

  const sample = (key, text) => {
    samples[key] ??= [];
    if (samples[key].length < 3) samples[key].push(text);
  };

  const call = async (idempotent) => {
    const seq = log.begin(idempotent);
    try {
      await client.call('counter', idempotent ? 'get' : 'add', [seq], {
        timeoutMs: deadlineMs,
        idempotent,
      });
      log.settle(seq, 0, 0);
    } catch (err) {
      const typed = err instanceof sb.SwitchboardError && sb.isErrorCode(err.code);
      const code = typed ? codes.indexOf(err.code) : UNTYPED;
      log.settle(seq, code, COMPLETED[err?.completed] ?? 0);
      sample(typed ? `${err.code}/${err.completed}` : 'untyped', String(err?.message ?? err));
    }
  };

  const worker = async (index, periodMs) => {
    let next = Date.now() + (periodMs * index) / concurrency;
    let n = index;
    while (Date.now() < endAt) {
      if (periodMs > 0) {
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
        if (Date.now() >= endAt) break;
        next = Math.max(next + periodMs, Date.now());
      }
      await call(n++ % 2 === 0);
    }
  };

  /** Resolves when every call has settled, or at `until` (those left are hung). */
  const settled = async (until) => {
    for (;;) {
      const open = log.end.subarray(0, log.count).some((end) => Number.isNaN(end));
      if (!open || Date.now() > until) return;
      await sleep(50);
    }
  };

  return {
    info: {},
    handlers: {
      /** Calls until one succeeds (the mesh is up), at most `timeoutMs`; answers the attempts. */
      probe: async ({ timeoutMs = 15_000 }) => {
        const until = Date.now() + timeoutMs;
        for (let attempt = 1; ; attempt++) {
          try {
            await client.call('counter', 'get', ['probe'], { timeoutMs: deadlineMs });
            return attempt;
          } catch (err) {
            if (Date.now() > until) throw err;
            await sleep(100);
          }
        }
      },
      /** Runs the load for `durationMs` (unless `setEnd` moves the end), then writes the log. */
      run: async ({ durationMs, periodMs = 100, streamMs = 50 }) => {
        endAt = Date.now() + durationMs;
        for (let i = 0; i < concurrency; i++) void worker(i, periodMs);
        const stream = setInterval(() => {
          if (Date.now() < endAt) void call(log.count % 2 === 0);
        }, streamMs);
        // Not the workers' promises: one stuck in a call that never settles
        // must not hold the report back.
        while (Date.now() < endAt) await sleep(Math.min(100, endAt - Date.now()));
        clearInterval(stream);
        await settled(endAt + deadlineMs + 1000);
        log.write(config.log);
        return { count: log.count, codes, samples };
      },
      /** Moves the end of the load. */
      setEnd: ({ at }) => {
        endAt = at;
        return endAt;
      },
      /** Calls so far, and how many succeeded. */
      progress: () => {
        let ok = 0;
        for (let i = 0; i < log.count; i++)
          if (log.code[i] === 0 && !Number.isNaN(log.end[i])) ok++;
        return { calls: log.count, ok };
      },
      close: () => client.close(),
    },
  };
}
