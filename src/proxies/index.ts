export { Client, type ClientOptions } from './client.js';
export {
  canRetry,
  type Dispatch,
  Dispatcher,
  type DispatchResult,
  describe,
  noLiveInstance,
} from './dispatcher.js';
export { BALANCE_POLICIES, type BalancePolicy, LoadBalancer } from './load-balancer.js';
export { Registrar } from './registrar.js';
export { type Resolution, Resolver, type ResolverOptions } from './resolver.js';
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
