export { Broker, type BrokerOptions } from './broker.js';
export { Forwarder } from './forwarder.js';
export {
  type Claim,
  DEFAULT_REGISTRY_LIMITS,
  fitting,
  type ListingPage,
  Registry,
  type RegistryChange,
  type RegistryEntry,
  type RegistryLimits,
  type RegistryOptions,
} from './registry.js';
