export * from './connection.js';
export {
  type ConnectionField,
  checkConnectionOptions,
  type FieldNames,
  natsUrlProblem,
} from './connection-check.js';
export { headersOf, readsRawHeaders } from './received-headers.js';
export {
  answerCall,
  answerCallError,
  type ListenContext,
  listen,
  respondError,
  respondValue,
} from './replies.js';
export { publishError, RequestChannel, type RequestParams } from './request-channel.js';
