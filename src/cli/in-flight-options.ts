import type { InFlightLimits } from '../core/index.js';

const IN_FLIGHT = 'Calls in flight:';

/** `--max-calls-in-flight` and `--max-bytes-in-flight` (each defaults to the library's). */
export function inFlightOptions(holder: 'broker' | 'bridge') {
  const limit = (describe: string) => ({ type: 'number' as const, describe, group: IN_FLIGHT });
  return {
    'max-calls-in-flight': limit(
      `Calls the ${holder} holds at once; more are refused with UNAVAILABLE [default: 20000]`,
    ),
    'max-bytes-in-flight': limit(
      `Bytes of call bodies the ${holder} holds at once; more are refused with UNAVAILABLE [default: 268435456]`,
    ),
  };
}

/** The in-flight limits given by {@link inFlightOptions} (or a mesh config entry). */
export function inFlightLimits(args: {
  maxCallsInFlight?: number | undefined;
  maxBytesInFlight?: number | undefined;
}): Partial<InFlightLimits> {
  return { maxCalls: args.maxCallsInFlight, maxBytes: args.maxBytesInFlight };
}
