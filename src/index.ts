/**
 * Switchboard: a federated broker mesh for TypeScript services over NATS.
 * @packageDocumentation
 */
export { Bridge, type BridgeOptions } from './bridge/index.js';
export { Broker, type BrokerOptions, Registry } from './broker/index.js';
export { type Calculator, calculatorService } from './examples/calculator.js';
export * from './protocol/index.js';
export * from './proxies/index.js';
export {
  type ConnectionOptions,
  DEFAULT_NATS_URL,
  headersOf,
  RequestChannel,
  readsRawHeaders,
  type TlsFiles,
} from './transport/index.js';
export {
  jsonLogger,
  type Logger,
  type LogLevel,
  lineLogger,
  silentLogger,
} from './util/index.js';
