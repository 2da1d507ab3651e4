/**
 * Tracing with OpenTelemetry: spans for a client's call, a broker's
 * forwarding, a bridge's relay and a handler, linked through the W3C trace
 * context every call carries. Only when the application has registered a
 * tracer provider: otherwise nothing here runs (no span, no object).
 */
import {
  type Context,
  context,
  createTraceState,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { CallReply } from '../core/index.js';
import type { CallMeta, SwitchboardError } from '../protocol/index.js';
import type { ClientInterceptor, ServerInterceptor } from '../proxies/interceptors.js';
import type { TraceContext } from '../proxies/types.js';

/** What the default (no-op) global provider hands out, to tell it from a real one. */
const NOOP_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();

let tracerFor: { provider: TracerProvider; tracer: Tracer } | undefined;

/**
 * The tracer of the tracer provider the application registered with
 * OpenTelemetry; undefined when it registered none.
 */
export function activeTracer(): Tracer | undefined {
  const global = trace.getTracerProvider();
  const provider = global instanceof ProxyTracerProvider ? global.getDelegate() : global;
  if (provider === NOOP_PROVIDER) return undefined;
  if (tracerFor?.provider !== provider) {
    tracerFor = { provider, tracer: provider.getTracer('switchboard') };
  }
  return tracerFor.tracer;
}

/** The OpenTelemetry context whose parent is the (remote) span `trace` names. */
function parentContext(traceContext: TraceContext | undefined): Context {
  if (!traceContext) return context.active();
  const [, traceId = '', spanId = '', flags = '00'] = traceContext.traceparent.split('-');
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16),
    isRemote: true,
    traceState: traceContext.tracestate ? createTraceState(traceContext.tracestate) : undefined,
  });
}

/** The W3C trace context that makes `span` the parent of what follows. */
export function traceContextOf(span: Span): TraceContext {
  const { traceId, spanId, traceFlags, traceState } = span.spanContext();
  const traceparent = `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`;
  const tracestate = traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/** Ends `span` with the outcome of `work`, which it returns. */
async function within<T>(span: Span, work: () => Promise<T>): Promise<T> {
  try {
    const value = await work();
    span.setAttribute('switchboard.code', 'OK');
    return value;
  } catch (err) {
    const code = (err as Partial<SwitchboardError>).code ?? 'APPLICATION';
    span.setAttribute('switchboard.code', code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

function rpcAttributes(service: string, method: string) {
  return { 'rpc.system': 'switchboard', 'rpc.service': service, 'rpc.method': method };
}

/** Traces a client's call: a CLIENT span, whose context the call carries. */
export function clientTracing(tracer: Tracer, site: () => string | undefined): ClientInterceptor {
  return (request, next) => {
    const span = tracer.startSpan(
      `${request.service}.${request.method}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          ...rpcAttributes(request.service, request.method),
          'switchboard.site': site() ?? '',
          ...(request.site ? { 'switchboard.target_site': request.site } : {}),
        },
      },
      parentContext(request.trace),
    );
    request.trace = traceContextOf(span);
    return within(span, next);
  };
}

/**
 * Traces a handler: a SERVER span, child of the caller's; the handler's
 * `ctx.trace` (and the active OpenTelemetry context) become the span's.
 */
export function serverTracing(tracer: Tracer, site: () => string | undefined): ServerInterceptor {
  return (request, next) => {
    const { service, method, path } = request.context;
    const span = tracer.startSpan(
      `${service}.${method}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          ...rpcAttributes(service, method),
          'switchboard.site': site() ?? '',
          'switchboard.path': path.join(','),
        },
      },
      parentContext(request.trace),
    );
    request.trace = traceContextOf(span);
    return within(span, () => context.with(trace.setSpan(context.active(), span), next));
  };
}

/**
 * Traces a hop that carries a call on (a broker forwarding it, a bridge
 * relaying it): a span child of the caller's, whose context `meta` then
 * carries. `work` gets the new trace context to send.
 */
export async function traceHop(
  tracer: Tracer,
  name: string,
  meta: CallMeta,
  attributes: Record<string, string>,
  work: (next: TraceContext) => Promise<CallReply>,
): Promise<CallReply> {
  const parent = meta.traceparent
    ? { traceparent: meta.traceparent, tracestate: meta.tracestate }
    : undefined;
  const span = tracer.startSpan(
    name,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        ...rpcAttributes(meta.service, meta.method),
        'switchboard.path': meta.path.join(','),
        ...attributes,
      },
    },
    parentContext(parent),
  );
  try {
    const reply = await work(traceContextOf(span));
    span.setAttribute('switchboard.code', reply.ok ? 'OK' : reply.error.code);
    if (!reply.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: reply.error.message });
    return reply;
  } finally {
    span.end();
  }
}
