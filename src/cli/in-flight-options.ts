import type { InFlightLimits } from '../core/index.js';

const IN_FLIGHT = 'Calls in flight:';

/**
 * `--max-calls-in-flight`, `--max-bytes-in-flight` and what one caller may
 * hold of them, `--calls-per-caller` and `--bytes-per-caller` (each
 * defaults to the library's).
 */
export function inFlightOptions(holder: 'broker' | 'bridge') {
  const limit = (describe: string) => ({ type: 'number' as const, describe, group: IN_FLIGHT });
  const caller = holder === 'broker' ? 'one thin client' : 'the calls from one site';
  return {
    'max-calls-in-flight': limit(
      `Calls the ${holder} holds at once; more are refused with UNAVAILABLE [default: 20000]`,
    ),
    'max-bytes-in-flight': limit(
      `Bytes of call bodies the ${holder} holds at once; more are refused with UNAVAILABLE [default: 268435456]`,
    ),
    'calls-per-caller': limit(
      `Calls of ${caller} the ${holder} holds at once [default: half the limit]`,
    ),
    'bytes-per-caller': limit(
      `Bytes of call bodies of ${caller} the ${holder} holds at once [default: half the limit]`,
    ),
  };
}

/** The in-flight limits given by {@link inFlightOptions} (or a mesh config entry). */
export function inFlightLimits(args: {
  maxCallsInFlight?: number | undefined;
  maxBytesInFlight?: number | undefined;
  /** `--calls-per-caller`, or `maxCallsPerCaller` of a mesh config entry. */
  callsPerCaller?: number | undefined;
  maxCallsPerCaller?: number | undefined;
  /** `--bytes-per-caller`, or `maxBytesPerCaller` of a mesh config entry. */
  bytesPerCaller?: number | undefined;
  maxBytesPerCaller?: number | undefined;
}): Partial<InFlightLimits> {
  return {
    maxCalls: args.maxCallsInFlight,
    maxBytes: args.maxBytesInFlight,
    maxCallsPerCaller: args.callsPerCaller ?? args.maxCallsPerCaller,
    maxBytesPerCaller: args.bytesPerCaller ?? args.maxBytesPerCaller,
  };
}
