/**
 * The call core: the one failover loop, instance picking, the resolver cache,
 * the registrar, and the seams (`Invoker`, `BrokerClient`) that `transport/`
 * implements over NATS. Nothing here imports NATS.
 */
export { callError, describeService, exhausted, noLiveInstance, notFound } from './call-errors.js';
export { Dispatcher } from './dispatcher.js';
export {
  type Attempt,
  canRetry,
  deadlinePassed,
  type FailoverCall,
  failed,
  failover,
  type Picker,
} from './failover.js';
export { type CallPosition, HeldCalls } from './held-calls.js';
export {
  DEFAULT_IN_FLIGHT_LIMITS,
  InFlightLimit,
  type InFlightLimits,
} from './in-flight-limit.js';
export { type CandidateSource, InstanceRouter } from './instance-picker.js';
export {
  BALANCE_POLICIES,
  type BalancePolicy,
  DEFAULT_EJECTION,
  type EjectionPolicy,
  LoadBalancer,
} from './load-balancer.js';
export { Registrar } from './registrar.js';
export { viaBroker } from './repeat-picker.js';
export { MAX_CACHED_RESOLUTIONS, Resolver, type ResolverOptions } from './resolver.js';
export type * from './types.js';
