/**
 * Observing the mesh: Prometheus metrics, health, OpenTelemetry tracing.
 * Run-time imports: protocol and the libraries only (interceptor types come
 * from proxies, as types).
 */
export {
  type Health,
  type HealthSource,
  ObservabilityEndpoint,
  type ObservabilityOptions,
  serveObservability,
} from './endpoint.js';
export { type GaugeReading, Metrics, outcomeCode } from './metrics.js';
export { activeTracer, clientTracing, serverTracing, traceContextOf, traceHop } from './tracing.js';
