import { ApplicationError } from '../protocol/index.js';
import type {
  CallContext,
  ServiceDefinition,
  ServiceImplementation,
  StandardSchemaV1,
} from '../proxies/index.js';

/** The example service of the CLI and the docs. */
export interface Calculator {
  add(a: number, b: number): number;
  /** Throws with application code `DIVIDE_BY_ZERO` when `b` is 0. */
  divide(a: number, b: number): number;
  /** Resolves with `ms` after sleeping that long; stops early when the call is cancelled. */
  sleep(ms: number): number;
}

function numbers(...values: unknown[]): void {
  for (const v of values) {
    if (typeof v !== 'number')
      throw new ApplicationError('BAD_ARGUMENT', `expected numbers, got ${typeof v}`);
  }
}

/** The calculator's methods. */
export const calculatorMethods: ServiceImplementation<Calculator> = {
  add(a, b) {
    numbers(a, b);
    return a + b;
  },
  divide(a, b) {
    numbers(a, b);
    if (b === 0) throw new ApplicationError('DIVIDE_BY_ZERO', 'cannot divide by zero', { a });
    return a / b;
  },
  sleep(ms, ctx: CallContext) {
    numbers(ms);
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => resolve(ms), ms);
      ctx.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        },
        { once: true },
      );
    });
  },
};

/**
 * A number, as a Standard Schema (what zod's `z.number()` or valibot's
 * `v.number()` would give, written out so the example needs neither).
 */
const aNumber: StandardSchemaV1<number> = {
  '~standard': {
    version: 1,
    vendor: 'switchboard-example',
    validate: (value) =>
      typeof value === 'number' && Number.isFinite(value)
        ? { value }
        : {
            issues: [
              { message: `expected a number, got ${JSON.stringify(value) ?? typeof value}` },
            ],
          },
  },
};

/** The calculator as a service definition, ready for `serve()`. */
export function calculatorService(version = '1.0.0'): ServiceDefinition {
  return {
    name: 'calculator',
    version,
    methods: calculatorMethods,
    arguments: { add: [aNumber, aNumber], divide: [aNumber, aNumber], sleep: [aNumber] },
  };
}
