/**
 * Test fixtures of Switchboard (`switchboard/testing`): real NATS servers, one
 * per site (or a cluster of them), for integration tests and the demo.
 */

export {
  type NatsClusterHandle,
  type NatsClusterNode,
  type NatsClusterOptions,
  startNatsCluster,
} from './nats-cluster.js';
export { DEFAULT_NATS_IMAGE, natsImage, startNatsContainer } from './nats-container.js';
export {
  DEFAULT_START_TIMEOUT_MS,
  findNatsServerBinary,
  NatsServerNotFoundError,
  startNatsBinary,
} from './nats-launcher.js';
export {
  isDockerAvailable,
  NATS_BACKEND_ENV,
  type NatsBackend,
  type NatsServerHandle,
  type NatsServerOptions,
  resolveNatsBackend,
  startNatsServer,
} from './nats-site.js';
