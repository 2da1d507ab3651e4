/**
 * Switchboard's internals (`switchboard/internal`), for its own benchmarks
 * and tests: the wire protocol, the call core and its seams, the NATS
 * plumbing, and the pure parts of broker and bridge. No stability promise:
 * applications import `switchboard`.
 * @packageDocumentation
 */
export * from './bridge/index.js';
export * from './broker/index.js';
export * from './core/index.js';
export { type Calculator, calculatorService } from './examples/calculator.js';
export * from './index.js';
export * from './observability/index.js';
export * from './protocol/index.js';
export { methodsOf } from './proxies/index.js';
export * from './transport/index.js';
export * from './util/index.js';
