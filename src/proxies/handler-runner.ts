import type { Tracer } from '@opentelemetry/api';
import { activeTracer, serverTracing } from '../observability/tracing.js';
import { SwitchboardError, toSwitchboardError } from '../protocol/index.js';
import { NotRun, type RunningCall } from './call-context.js';
import { serving } from './call-scope.js';
import { type IncomingRequest, intercept, type ServerInterceptor } from './interceptors.js';
import type { CallContext } from './types.js';

/** A method's handler: the caller's arguments, then the call's context. */
export type Handler = (...args: unknown[]) => unknown;

/**
 * How a server runs its handlers: straight, or through its interceptors, and
 * (when asked) inside an async context that the calls they make find.
 * With neither, a call costs nothing more than the handler itself.
 */
export class HandlerRunner {
  readonly #interceptors: readonly ServerInterceptor[];
  readonly #asyncContext: boolean;
  readonly #site: () => string | undefined;
  #traced: { tracer: Tracer; chain: readonly ServerInterceptor[] } | undefined;

  constructor(
    interceptors: readonly ServerInterceptor[],
    asyncContext: boolean,
    site: () => string | undefined,
  ) {
    this.#interceptors = interceptors;
    this.#asyncContext = asyncContext;
    this.#site = site;
  }

  /** Runs `handler` for one call; see `AdmittedCall.run`. */
  run(handler: Handler, args: unknown[], context: CallContext, running: RunningCall): unknown {
    const interceptors = this.#chain();
    const body =
      interceptors.length === 0
        ? () => invoke(handler, args, context)
        : () => this.#intercepted(interceptors, handler, args, context, running);
    return this.#asyncContext ? serving(context, body) : body();
  }

  /** Tracing first when the application traces, then the server's interceptors. */
  #chain(): readonly ServerInterceptor[] {
    const tracer = activeTracer();
    if (!tracer) return this.#interceptors;
    if (this.#traced?.tracer !== tracer) {
      const tracing = serverTracing(tracer, this.#site);
      this.#traced = { tracer, chain: [tracing, ...this.#interceptors] };
    }
    return this.#traced.chain;
  }

  #intercepted(
    interceptors: readonly ServerInterceptor[],
    handler: Handler,
    args: unknown[],
    context: CallContext,
    running: RunningCall,
  ): Promise<unknown> {
    let ran = false;
    const request: IncomingRequest = {
      context,
      args,
      get trace() {
        return running.trace;
      },
      set trace(trace) {
        running.trace = trace;
      },
    };
    return intercept(interceptors, request, () => {
      ran = true;
      try {
        return Promise.resolve(invoke(handler, args, context));
      } catch (err) {
        return Promise.reject(err);
      }
    }).catch((err: unknown) => {
      // Refused before the handler ran: the caller may safely try elsewhere.
      if (!ran) throw new NotRun(notRun(err));
      throw err;
    });
  }
}

function invoke(handler: Handler, args: unknown[], context: CallContext): unknown {
  args.push(context);
  return handler(...args);
}

/** What an interceptor threw before the handler ran, with completion `no`. */
function notRun(thrown: unknown): SwitchboardError {
  const err = toSwitchboardError(thrown, { completed: 'no' });
  if (err.completed === 'no') return err;
  return SwitchboardError.fromData({ ...err.toData(), completed: 'no' });
}
