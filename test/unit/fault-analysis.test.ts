import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { analyse, type CallLog, readCallLog, recoveredAfter, UNTYPED } from '../faults/analysis.js';
import { CallLog as Writer } from '../support/load-role.mjs';

const CODES = ['ok', 'SERVICE_NOT_FOUND', 'TIMEOUT', 'UNAVAILABLE'];
const [OK, NOT_FOUND, TIMEOUT, UNAVAILABLE] = [0, 1, 2, 3];
const [NO, MAYBE] = [2, 3];

interface Call {
  start: number;
  end: number;
  code?: number;
  completed?: number;
  idempotent?: boolean;
}

function logOf(calls: Call[]): CallLog {
  return {
    count: calls.length,
    start: Float64Array.from(calls, (c) => c.start),
    end: Float64Array.from(calls, (c) => c.end),
    code: Uint8Array.from(calls, (c) => c.code ?? OK),
    completed: Uint8Array.from(calls, (c) => c.completed ?? 0),
    idempotent: Uint8Array.from(calls, (c) => (c.idempotent ? 1 : 0)),
    codes: CODES,
  };
}

/** One call started every `every` ms in [from, to), taking `took` ms, with `outcome(start)`. */
function stream(
  from: number,
  to: number,
  every: number,
  took: number,
  outcome: (t: number) => Partial<Call> = () => ({}),
): Call[] {
  const calls: Call[] = [];
  for (let t = from; t < to; t += every) calls.push({ start: t, end: t + took, ...outcome(t) });
  return calls;
}

const moments = { faultAt: 10_000, healAt: 15_000, endAt: 20_000, deadlineMs: 2_000 };
const everyCallRan = (log: CallLog) => new Map(Array.from({ length: log.count }, (_, i) => [i, 1]));

describe('fault analysis', () => {
  test('fault analysis - reads back the columns the load writes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fault-analysis-'));
    try {
      const writer = new Writer();
      for (let i = 0; i < 3000; i++) writer.settle(writer.begin(i % 2 === 0), i % 4, i % 3);
      writer.begin(true); // never settles
      writer.write(join(dir, 'log.bin'));
      const log = readCallLog(await readFile(join(dir, 'log.bin')), writer.count, CODES);
      expect(log.count).toBe(3001);
      expect([log.code[5], log.completed[5], log.idempotent[5], log.idempotent[6]]).toEqual([
        1, 2, 0, 1,
      ]);
      expect(log.end[2999]! - log.start[2999]!).toBeGreaterThanOrEqual(0);
      expect(Number.isNaN(log.end[3000]!)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('fault analysis - counts outcomes, hung calls, untyped errors and what the journal contradicts', () => {
    const log = logOf([
      { start: 0, end: 50 },
      { start: 0, end: 2_050, code: TIMEOUT, completed: MAYBE }, // at the deadline: settled in time
      { start: 0, end: 2_101, code: TIMEOUT, completed: MAYBE }, // late: hung
      { start: 0, end: Number.NaN }, // never settled: hung
      { start: 0, end: 10, code: UNAVAILABLE, completed: NO }, // said `no`, but ran
      { start: 0, end: 10, code: UNTYPED },
      { start: 0, end: 10, code: NOT_FOUND, completed: NO, idempotent: true },
      { start: 0, end: 10, idempotent: false }, // ran twice
      { start: 0, end: 10 }, // succeeded, never ran
    ]);
    const journal = new Map([
      [0, 1],
      [1, 1],
      [4, 1],
      [7, 2],
    ]);
    const f = analyse(log, journal, moments);
    expect(f.outcomes).toEqual({
      ok: 3,
      'TIMEOUT/maybe': 2,
      unsettled: 1,
      'UNAVAILABLE/no': 1,
      untyped: 1,
      'SERVICE_NOT_FOUND/no': 1,
    });
    expect([f.hung, f.untyped, f.serviceNotFound]).toEqual([2, 1, 1]);
    expect([f.ranThoughNo, f.nonIdempotentTwice, f.succeededUnjournaled]).toEqual([1, 1, 1]);
    expect(f.lostIdempotent).toBe(1);
  });

  test('fault analysis - detection is the first fast UNAVAILABLE of a call started after the fault', () => {
    const log = logOf([
      ...stream(8_000, 10_000, 10, 5),
      // In flight at the fault: waits out its deadline.
      { start: 9_990, end: 11_990, code: TIMEOUT, completed: MAYBE },
      // Slow UNAVAILABLE: not fast.
      { start: 10_100, end: 12_000, code: UNAVAILABLE, completed: MAYBE },
      // The first fast one, 2.5 s after the fault; another call is in flight then.
      { start: 12_400, end: 12_500, code: UNAVAILABLE, completed: NO },
      { start: 12_300, end: 12_700, code: UNAVAILABLE, completed: MAYBE },
    ]);
    const f = analyse(log, everyCallRan(log), moments);
    expect(f.successBeforeFault).toBe(1);
    expect(f.firstUnavailableMs).toBe(2_000);
    expect(f.firstFastUnavailableMs).toBe(2_500);
    expect(f.inFlightAtFault).toEqual({
      calls: 1,
      lastEndedMs: 1_990,
      outcomes: { 'TIMEOUT/maybe': 1 },
    });
    expect(f.inFlightAtDetection).toEqual({
      calls: 2,
      lastEndedMs: 200,
      outcomes: { 'UNAVAILABLE/no': 1, 'UNAVAILABLE/maybe': 1 },
    });
  });

  test('fault analysis - recovery starts where every later window succeeds at 95 % or more', () => {
    // Calls every 10 ms; all fail until 1.2 s after the heal.
    const log = logOf(
      stream(8_000, 20_000, 10, 5, (t) =>
        t >= 10_000 && t < 16_200 ? { code: UNAVAILABLE, completed: NO } : {},
      ),
    );
    const f = analyse(log, everyCallRan(log), moments);
    // The window [16 150, 16 650) holds 5 failures in 50 calls: 90 %, still failing.
    expect(f.recoveryMs).toBe(1_200);
    expect(f.recoveryFromFaultMs).toBe(6_200);
    expect(f.series[0]).toEqual({ atMs: -1_000, started: 50, ok: 50 });
    expect(f.series[2]).toEqual({ atMs: 0, started: 50, ok: 0 });
  });

  test('fault analysis - no recovery when the last window fails, or no call starts at all', () => {
    const failing = logOf(
      stream(15_000, 20_000, 10, 5, () => ({ code: TIMEOUT, completed: MAYBE })),
    );
    expect(recoveredAfter(failing, 15_000, 20_000)).toBeNull();
    expect(recoveredAfter(logOf([]), 15_000, 20_000)).toBeNull();
    const healthy = logOf(stream(15_000, 20_000, 10, 5));
    expect(recoveredAfter(healthy, 15_000, 20_000)).toBe(0);
    // A gap with no call started counts as failing.
    const gap = logOf([...stream(15_000, 16_000, 10, 5), ...stream(17_000, 20_000, 10, 5)]);
    expect(recoveredAfter(gap, 15_000, 20_000)).toBe(1_550);
  });
});
