import type { Msg } from 'nats';
import {
  type CallMeta,
  type Codec,
  callHeaders,
  cancelHeaders,
  ErrorCode,
  type InstanceView,
  isErrorReply,
  parse,
  RETRYABLE_CODES,
  SwitchboardError,
} from '../protocol/index.js';
import type { RequestChannel, SiteConnection } from '../transport/index.js';
import { getOrCreate } from '../util/index.js';
import type { LoadBalancer } from './load-balancer.js';
import type { Resolution, Resolver } from './resolver.js';

/** One call to send to an instance of a service on this site. */
export interface Dispatch {
  /** Routing metadata; `path` already lists the sites crossed so far. */
  meta: CallMeta;
  /** The msgpack-encoded arguments, passed through untouched. */
  body: Uint8Array;
  /** Local time (epoch ms) at which the call must have ended. */
  deadline: number;
  signal?: AbortSignal | undefined;
  /** Whether the method may run twice (retries after completion `maybe`). */
  idempotent: boolean;
  /** Site the call must reach, when the caller pinned one or a relay carries it on. */
  site?: string | undefined;
}

/** The outcome of a dispatch: the reply message, and the error it carries if it is an error reply. */
export interface DispatchResult {
  reply: Msg;
  error: SwitchboardError | undefined;
}

/**
 * The heart of the client-side proxy, shared with the bridges: resolves the
 * service on this site, picks the nearest instance, sends the call, and moves
 * on to another instance where that is safe, within the deadline. Bodies pass
 * through untouched, so a relay can use it without decoding arguments.
 */
export class Dispatcher {
  readonly #conn: SiteConnection;
  readonly #channel: RequestChannel;
  readonly #resolver: Resolver;
  readonly #balancer: LoadBalancer;
  readonly #codec: Codec;
  readonly #bySite = new WeakMap<readonly InstanceView[], Map<string, readonly InstanceView[]>>();

  constructor(
    conn: SiteConnection,
    channel: RequestChannel,
    resolver: Resolver,
    balancer: LoadBalancer,
    codec: Codec,
  ) {
    this.#conn = conn;
    this.#channel = channel;
    this.#resolver = resolver;
    this.#balancer = balancer;
    this.#codec = codec;
  }

  /**
   * Sends the call and resolves with the reply (a result or an error reply
   * from the far end); rejects with a {@link SwitchboardError} when no reply
   * could be had (no instance, deadline passed, cancelled).
   */
  async dispatch(call: Dispatch): Promise<DispatchResult> {
    const { meta } = call;
    const service = meta.service;
    let skipped: Set<string> | undefined;
    let lastError: SwitchboardError | undefined;
    for (;;) {
      const remaining = call.deadline - Date.now();
      if (remaining <= 0)
        throw lastError ?? this.#error(ErrorCode.TIMEOUT, `${target(meta)}: deadline passed`, meta);
      const resolution =
        this.#resolver.cached(service, meta.versionRange) ??
        (await this.#resolver.resolve(service, meta.versionRange, remaining));
      let instances = resolution.instances;
      if (call.site !== undefined) instances = this.#atSite(instances, call.site);
      if (instances.length === 0 && !lastError) throw this.#notFound(meta, call, resolution);
      const chosen = this.#balancer.pick(instances, skipped);
      if (!chosen) throw this.#exhausted(meta, lastError);
      // A call that starts here has this site as its origin.
      if (meta.path.length === 0 && this.#resolver.site !== undefined) {
        meta.path = [this.#resolver.site];
      }
      // A remote route keeps the call heading for the site it chose.
      meta.site = call.site ?? (chosen.hops > 0 ? chosen.site : undefined);
      meta.budgetMs = remaining;
      const subject = this.#conn.subjects.instance(chosen.id);
      let error: SwitchboardError;
      this.#balancer.begin(chosen.id);
      try {
        const reply = await this.#channel.request(subject, {
          data: call.body,
          headers: callHeaders(meta),
          timeoutMs: remaining,
          signal: call.signal,
          target: target(meta),
          onAbort: call.signal ? () => this.#cancel(subject, meta) : undefined,
        });
        if (!isErrorReply(reply.headers)) return { reply, error: undefined };
        error = SwitchboardError.fromData(parse.errorData(this.#codec.decode(reply.data)));
        if (!canRetry(error, call.idempotent)) return { reply, error };
      } catch (thrown) {
        const e = thrown as SwitchboardError;
        const message =
          e.code === ErrorCode.UNAVAILABLE && e.completed === 'no'
            ? `instance ${chosen.id} at site '${chosen.site}' did not answer (${e.message})`
            : e.message;
        error = new SwitchboardError(e.code, message, {
          completed: e.completed,
          site: this.#resolver.site,
          service,
          path: meta.path,
          cause: thrown,
        });
        if (!canRetry(error, call.idempotent)) throw error;
        if (error.code === ErrorCode.UNAVAILABLE) this.#resolver.forget(service, chosen.id);
      } finally {
        this.#balancer.end(chosen.id);
      }
      lastError = error;
      skipped ??= new Set();
      skipped.add(chosen.id);
    }
  }

  /**
   * The instances hosted at `site`. Relays ask this on every call, so the
   * answer is kept for as long as the resolver keeps the same array.
   */
  #atSite(instances: readonly InstanceView[], site: string): readonly InstanceView[] {
    const bySite = getOrCreate(this.#bySite, instances, () => new Map());
    return getOrCreate(bySite, site, () => instances.filter((i) => i.site === site));
  }

  /** Every candidate failed (or there was none): the last error, or UNAVAILABLE saying so. */
  #exhausted(meta: CallMeta, lastError: SwitchboardError | undefined): SwitchboardError {
    if (lastError && !(lastError.code === ErrorCode.UNAVAILABLE && lastError.completed === 'no')) {
      return lastError;
    }
    const why = lastError ? `: ${lastError.message}` : '';
    return this.#error(ErrorCode.UNAVAILABLE, `${noLiveInstance(meta, undefined)}${why}`, meta);
  }

  /** `UNAVAILABLE` for a service that had instances recently, else `SERVICE_NOT_FOUND`. */
  #notFound(meta: CallMeta, call: Dispatch, resolution: Resolution): SwitchboardError {
    if (call.site === undefined && resolution.departedFrom !== undefined) {
      return this.#error(
        ErrorCode.UNAVAILABLE,
        noLiveInstance(meta, resolution.departedFrom),
        meta,
      );
    }
    const where = call.site === undefined ? '' : ` at site '${call.site}'`;
    return this.#error(
      ErrorCode.SERVICE_NOT_FOUND,
      `service '${describe(meta)}'${where} is not registered`,
      meta,
    );
  }

  /** Tells the instance that the caller gave up, so its handler's signal aborts. */
  #cancel(subject: string, meta: CallMeta): void {
    if (this.#conn.nc.isClosed()) return;
    this.#conn.nc.publish(subject, undefined, { headers: cancelHeaders(meta).forNats() });
  }

  #error(code: ErrorCode, message: string, meta: CallMeta): SwitchboardError {
    return new SwitchboardError(code, message, {
      completed: 'no',
      site: this.#resolver.site,
      service: meta.service,
      path: meta.path,
    });
  }
}

/** Whether another instance may be tried after `err`. */
export function canRetry(err: SwitchboardError, idempotent: boolean): boolean {
  if (!RETRYABLE_CODES.has(err.code)) return false;
  return err.completed === 'no' || (idempotent && err.completed === 'maybe');
}

function target(meta: CallMeta): string {
  return `${meta.service}.${meta.method}`;
}

/** The message of `UNAVAILABLE` for a known service with no live instance. */
export function noLiveInstance(meta: CallMeta, departedFrom: string | undefined): string {
  const where = departedFrom === undefined ? '' : ` (the last one was at site '${departedFrom}')`;
  return `no live instance of '${describe(meta)}'${where}`;
}

/** `service`, or `service@range` when a version range was asked for. */
export function describe(meta: CallMeta): string {
  return meta.versionRange ? `${meta.service}@${meta.versionRange}` : meta.service;
}
