export { Broker, type BrokerOptions } from './broker.js';
export { Forwarder } from './forwarder.js';
export {
  Registry,
  type RegistryChange,
  type RegistryEntry,
  type RegistryOptions,
} from './registry.js';
