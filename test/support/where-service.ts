/**
 * The `where` service of the federation tests (integration and in-memory):
 * it says where it runs and how each call reached it.
 */
import type { CallContext, ServiceDefinition } from '../../src/internal.js';

/** The methods of {@link whereService}, for typed proxies. */
export interface Where {
  site(): string;
  path(): string[];
  budget(): number;
  fail(): never;
  sleep(ms: number): number;
}

/** The ids of the `sleep` calls that started, and of those their callers gave up. */
export interface SleepCalls {
  started: string[];
  aborted: string[];
}

/**
 * A service that says where it runs (`site`), the path and budget each call
 * arrived with, fails with an application error (`fail`), and sleeps until
 * its caller gives up (`sleep`, noted in `calls` when given).
 */
export function whereService(site: string, calls?: SleepCalls): ServiceDefinition {
  return {
    name: 'where',
    methods: {
      site: () => site,
      path: (ctx: CallContext) => ctx.path,
      budget: (ctx: CallContext) => ctx.deadline - Date.now(),
      fail: () => {
        throw Object.assign(new RangeError(`bad at ${site}`), {
          code: 'OUT_OF_RANGE',
          details: { site },
        });
      },
      sleep: (ms: number, ctx: CallContext) =>
        new Promise((resolve) => {
          calls?.started.push(ctx.callId);
          const timer = setTimeout(() => resolve(ms), ms);
          ctx.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            calls?.aborted.push(ctx.callId);
            resolve('aborted');
          });
        }),
    },
  };
}
