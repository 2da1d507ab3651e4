export type { StandardIssue, StandardResult, StandardSchemaV1 } from './arguments.js';
export { Client, type ClientOptions } from './client.js';
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
} from './types.js';
