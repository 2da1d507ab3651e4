import type { NatsConnection } from 'nats';
import {
  type CallMeta,
  type Codec,
  ErrorCode,
  errorReplyHeaders,
  type HeaderBlock,
  SwitchboardError,
  toSwitchboardError,
} from '../protocol/index.js';
import { answerCall, type CallRequest, publishError } from '../transport/index.js';
import type { Logger } from '../util/index.js';
import type { Outcome } from './call-context.js';

/** Where the replier's answers come from, for the errors it stamps. */
export interface ReplyOrigin {
  readonly service: string;
  /** Site of the server, once a broker has named it. */
  site(): string | undefined;
}

/**
 * Turns the outcome of a call into its answer and sends it: a result as a
 * bare msgpack body (within the size limit), anything else as an error reply
 * stamped with this site and service.
 */
export class CallReplier {
  readonly #nc: NatsConnection;
  readonly #codec: Codec;
  readonly #maxPayload: number;
  readonly #origin: ReplyOrigin;
  readonly #logger: Logger;

  constructor(
    nc: NatsConnection,
    codec: Codec,
    maxPayload: number,
    origin: ReplyOrigin,
    logger: Logger,
  ) {
    this.#nc = nc;
    this.#codec = codec;
    this.#maxPayload = maxPayload;
    this.#origin = origin;
    this.#logger = logger;
  }

  /**
   * Answers `call` with `outcome`; returns the error sent instead of a
   * result, if any (for the endpoint's statistics).
   */
  answer(call: CallRequest, outcome: Outcome): SwitchboardError | undefined {
    const { meta } = call;
    if (outcome.kind !== 'result') {
      let error: SwitchboardError;
      try {
        error = this.#describe(outcome, meta);
      } catch {
        // A thrown value whose fields throw when read.
        error = this.#stamp(
          ErrorCode.INTERNAL,
          'the handler failed with a value that cannot be read',
          meta,
        );
      }
      if (call.msg.reply) this.#sendError(call, error);
      return error;
    }
    if (!call.msg.reply) return undefined;
    let body: Uint8Array;
    try {
      body = this.#codec.encode(outcome.value);
    } catch (err) {
      const message = `cannot encode the result: ${(err as Error).message}`;
      return this.#sendError(call, this.#stamp(ErrorCode.INTERNAL, message, meta));
    }
    if (body.length > this.#maxPayload) {
      const message = `result of ${body.length} bytes exceeds the limit of ${this.#maxPayload}`;
      return this.#sendError(call, this.#stamp(ErrorCode.PAYLOAD_TOO_LARGE, message, meta));
    }
    const refusal = this.#send(call, body, undefined);
    if (refusal === undefined) return undefined;
    // NATS refused the result (too large for the server, or the connection closed).
    const cause = publishError(refusal.error, `reply of ${this.#origin.service}`);
    return this.#sendError(call, this.#stamp(cause.code, cause.message, meta));
  }

  #sendError(call: CallRequest, err: SwitchboardError): SwitchboardError {
    this.#send(call, this.#errorBody(err, call.meta), errorReplyHeaders());
    return err;
  }

  /**
   * The wire form of `err`: as it is, else without `details` (msgpack cannot
   * carry them, nested too deep or in a cycle, or they make it too large),
   * else a bare `INTERNAL` with the same completion: an error always goes.
   */
  #errorBody(err: SwitchboardError, meta: CallMeta): Uint8Array {
    const data = err.toData();
    const { details: _dropped, ...bare } = data;
    for (const candidate of [data, bare]) {
      try {
        const body = this.#codec.encode(candidate);
        if (body.length <= this.#maxPayload) return body;
      } catch {
        // The next candidate carries less.
      }
      this.#logger.warn(`cannot send an error as it is: ${err.code}, too large or not encodable`);
    }
    const message = `the ${err.code} error could not be sent (too large, or not encodable)`;
    const internal = new SwitchboardError(ErrorCode.INTERNAL, message, {
      ...this.#where(meta),
      completed: err.completed,
    });
    return this.#codec.encode(internal.toData());
  }

  /** Sends one answer; when NATS refuses it, says why (and logs it). */
  #send(
    call: CallRequest,
    body: Uint8Array,
    headers: HeaderBlock | undefined,
  ): { error: unknown } | undefined {
    try {
      answerCall(this.#nc, call, body, headers);
      return undefined;
    } catch (error) {
      this.#logger.warn(`cannot send a reply: ${(error as Error).message}`);
      return { error };
    }
  }

  /** An error raised here after the handler ran: completion `yes`. */
  #stamp(code: ErrorCode, message: string, meta: CallMeta): SwitchboardError {
    return new SwitchboardError(code, message, { ...this.#where(meta), completed: 'yes' });
  }

  /**
   * The error the caller sees for a thrown value or a refusal. A value the
   * handler threw means the call was carried out (`yes`), even a
   * SwitchboardError from a nested call; a refusal keeps its completion.
   */
  #describe(outcome: Exclude<Outcome, { kind: 'result' }>, meta: CallMeta): SwitchboardError {
    const where = this.#where(meta);
    const thrown = outcome.kind === 'thrown' ? outcome.thrown : outcome.error;
    const err = toSwitchboardError(thrown, { ...where, completed: 'yes' });
    if (err !== thrown) return err;
    return new SwitchboardError(err.code, err.message, {
      name: err.remoteName,
      appCode: err.appCode,
      details: err.details,
      site: err.site ?? where.site,
      service: err.service ?? where.service,
      completed: outcome.kind === 'thrown' ? 'yes' : err.completed,
      path: err.path ?? where.path,
    });
  }

  #where(meta: CallMeta) {
    return { site: this.#origin.site(), service: this.#origin.service, path: meta.path };
  }
}
