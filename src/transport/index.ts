export { readReply } from './call-reply.js';
export * from './connection.js';
export { NatsBrokerClient } from './nats-broker-client.js';
export { NatsInvoker } from './nats-invoker.js';
export { headersOf, readsRawHeaders } from './received-headers.js';
export {
  answerCall,
  answerCallError,
  answerWith,
  type ListenContext,
  listen,
  respondError,
  respondValue,
} from './replies.js';
export { publishError, RequestChannel, type RequestParams } from './request-channel.js';
export { SiteLink } from './site-link.js';
