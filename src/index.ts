/**
 * Switchboard: a federated broker mesh for TypeScript services over NATS.
 *
 * This entry point lists by name what applications use. Wire parsers, the
 * call core and the NATS plumbing are internal (`switchboard/internal`, for
 * Switchboard's own benchmarks and tests; no stability promise).
 * @packageDocumentation
 */
export { Bridge, type BridgeOptions } from './bridge/index.js';
export { Broker, type BrokerOptions, type Registry } from './broker/index.js';
export {
  BALANCE_POLICIES,
  type BalancePolicy,
  type BrokerIdentity,
  type SiteListing,
} from './core/index.js';
export {
  type Health,
  type HealthSource,
  Metrics,
  ObservabilityEndpoint,
  type ObservabilityOptions,
  serveObservability,
} from './observability/index.js';
export {
  ApplicationError,
  type Completion,
  ErrorCode,
  type ErrorData,
  type InstanceView,
  isErrorCode,
  RETRYABLE_CODES,
  type ServiceView,
  SwitchboardError,
  type SwitchboardErrorOptions,
  toSwitchboardError,
} from './protocol/index.js';
export {
  type CallContext,
  type CallOptions,
  Client,
  type ClientInterceptor,
  type ClientOptions,
  type ClientProxy,
  currentCall,
  type IncomingRequest,
  type MethodsOf,
  type OutgoingRequest,
  type ProxyOptions,
  type ServerInterceptor,
  type ServerOptions,
  ServerProxy,
  type ServiceDefinition,
  type ServiceImplementation,
  type StandardSchemaV1,
  serve,
  type TraceContext,
} from './proxies/index.js';
export { type ConnectionOptions, DEFAULT_NATS_URL, type TlsFiles } from './transport/index.js';
export {
  jsonLogger,
  type Logger,
  type LogLevel,
  lineLogger,
  silentLogger,
} from './util/index.js';
