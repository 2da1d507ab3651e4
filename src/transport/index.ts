export * from './connection.js';
export { publishError, type RequestParams, RequestChannel } from './request-channel.js';
export { listen, type ListenContext, respondError, respondValue } from './replies.js';
