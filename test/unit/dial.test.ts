import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ErrorCode, SwitchboardError } from '../../src/protocol/errors.js';
import { type DialPlan, dial } from '../../src/transport/dial.js';
import type { Logger } from '../../src/util/logger.js';
import { seconds, waitingNotice } from '../../src/util/waiting.js';

/** A logger that keeps its warn lines. */
function warnings(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const ignore = () => {};
  return {
    lines,
    logger: { debug: ignore, info: ignore, error: ignore, warn: (line) => lines.push(line) },
  };
}

class Refused extends Error {
  code = 'CONNECTION_REFUSED';
}
class BadTls extends Error {
  code = 'SERVER_OPT_NA';
}

function plan(logger: Logger, overrides: Partial<DialPlan> = {}): DialPlan {
  return {
    what: 'NATS at nats://a:4222',
    logger,
    wait: true,
    attemptMs: 20_000,
    retryable: (err) => !(err instanceof BadTls),
    describe: (err) => (err instanceof Refused ? 'connection refused' : 'TLS mismatch'),
    ...overrides,
  };
}

/** The UNAVAILABLE error `promise` rejects with. */
async function unavailable(promise: Promise<unknown>): Promise<SwitchboardError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SwitchboardError);
  expect((err as SwitchboardError).code).toBe(ErrorCode.UNAVAILABLE);
  return err as SwitchboardError;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('waitingNotice', () => {
  test('waiting - says what it waits for at the first failure, then every few seconds with the last reason', () => {
    const { lines, logger } = warnings();
    const notice = waitingNotice(logger, 'a broker on the local side', 5000);
    vi.advanceTimersByTime(10_000);
    expect(lines).toEqual([]);
    notice.failed('no responders');
    expect(lines).toEqual(['waiting for a broker on the local side (no responders)']);
    notice.failed('timeout');
    vi.advanceTimersByTime(5000);
    expect(lines[1]).toBe('still waiting for a broker on the local side after 15 s (timeout)');
    vi.advanceTimersByTime(5000);
    expect(lines).toHaveLength(3);
    notice.stop();
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('waiting - a notice stopped before any failure says nothing', () => {
    const { lines, logger } = warnings();
    const notice = waitingNotice(logger, 'x');
    notice.stop();
    notice.failed('late');
    notice.stop();
    expect(lines).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('waiting - seconds() reads well', () => {
    expect(seconds(1500)).toBe('1.5 s');
    expect(seconds(250)).toBe('0.3 s');
    expect(seconds(12_400)).toBe('12 s');
  });
});

describe('dial', () => {
  test('dial - without waiting, one failure is UNAVAILABLE naming what and why', async () => {
    const { lines, logger } = warnings();
    const attempt = vi.fn(() => Promise.reject(new Refused()));
    const err = await unavailable(dial(attempt, plan(logger, { wait: false })));
    expect(err.message).toBe('cannot connect to NATS at nats://a:4222: connection refused');
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([]);
  });

  test('dial - waits through failures, saying so, and resolves once an attempt succeeds', async () => {
    const { lines, logger } = warnings();
    let failures = 0;
    const attempt = vi.fn(() =>
      ++failures <= 6 ? Promise.reject(new Refused()) : Promise.resolve('nc'),
    );
    const connected = dial(attempt, plan(logger));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await connected).toBe('nc');
    expect(attempt).toHaveBeenCalledTimes(7);
    expect(lines[0]).toBe('waiting for NATS at nats://a:4222 (connection refused)');
    expect(lines.slice(1).every((line) => line.startsWith('still waiting for NATS'))).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('dial - gives up after waitTimeoutMs with the last reason', async () => {
    const { lines, logger } = warnings();
    const timeouts: number[] = [];
    const attempt = (timeoutMs: number) => {
      timeouts.push(timeoutMs);
      return Promise.reject(new Refused());
    };
    const result = dial(attempt, plan(logger, { waitTimeoutMs: 3000 }));
    const settled = unavailable(result);
    await vi.advanceTimersByTimeAsync(3000);
    const err = await settled;
    expect(err.message).toBe(
      'gave up waiting for NATS at nats://a:4222 after 3 s: connection refused',
    );
    expect(lines[0]).toBe('waiting for NATS at nats://a:4222 (connection refused)');
    // No attempt may outlast the wait.
    expect(Math.max(...timeouts)).toBeLessThanOrEqual(3000);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('dial - a failure that waiting does not cure ends the wait at once', async () => {
    const { lines, logger } = warnings();
    const attempt = vi.fn(() => Promise.reject(new BadTls()));
    const err = await unavailable(dial(attempt, plan(logger)));
    expect(err.message).toBe('cannot connect to NATS at nats://a:4222: TLS mismatch');
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([]);
  });
});
