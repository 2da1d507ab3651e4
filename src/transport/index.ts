export { readReply } from './call-reply.js';
export {
  answerCall,
  answerCallError,
  type CallRequest,
  readCallRequest,
} from './call-request.js';
export * from './connection.js';
export {
  type ConnectionField,
  checkConnectionOptions,
  type FieldNames,
  natsUrlProblem,
} from './connection-check.js';
export {
  EndpointStats,
  type EndpointStatsData,
  MAX_COUNTED_PATHS,
  OTHER_PATHS,
  type RecordedError,
} from './endpoint-stats.js';
export { failHandshakesOnClose, guardsHandshakes } from './handshake-guard.js';
export { type GracefulLinkState, type LinkGrace, linkGrace } from './link-grace.js';
export {
  type MicroEndpoint,
  MicroResponder,
  type MicroService,
} from './micro-responder.js';
export { NatsBrokerClient } from './nats-broker-client.js';
export { NatsInvoker } from './nats-invoker.js';
export { installProtocolReader, readsProtocol } from './protocol-reader.js';
export { headersOf, readsRawHeaders } from './received-headers.js';
export {
  answerWith,
  type ListenContext,
  type ListenOptions,
  listen,
  respondError,
  respondValue,
  takeCalls,
} from './replies.js';
export {
  isLinkFailure,
  publishError,
  RequestChannel,
  type RequestParams,
} from './request-channel.js';
export { SiteLink } from './site-link.js';
