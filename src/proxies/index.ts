export type { StandardIssue, StandardResult, StandardSchemaV1 } from './arguments.js';
export { currentCall } from './call-scope.js';
export { Client, type ClientOptions } from './client.js';
export type {
  ClientInterceptor,
  IncomingRequest,
  OutgoingRequest,
  ServerInterceptor,
} from './interceptors.js';
export {
  methodsOf,
  type ServerOptions,
  ServerProxy,
  type ServiceDefinition,
  serve,
} from './server-proxy.js';
export type {
  CallContext,
  CallOptions,
  ClientProxy,
  MethodsOf,
  ProxyOptions,
  ServiceImplementation,
  TraceContext,
} from './types.js';
