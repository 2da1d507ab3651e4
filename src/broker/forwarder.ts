import {
  type CallReply,
  type CandidateSource,
  failover,
  HeldCalls,
  InstanceRouter,
  type Invoker,
  type LoadBalancer,
  type Resolution,
} from '../core/index.js';
import { activeTracer, traceHop } from '../observability/tracing.js';
import type { CallMeta, InstanceView, Subjects } from '../protocol/index.js';
import type { Registry } from './registry.js';

/** The broker's own registry as the place to find instances: always current, nothing to forget. */
class RegistrySource implements CandidateSource {
  readonly #registry: Registry;

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  get site(): string {
    return this.#registry.site;
  }

  candidates(meta: CallMeta): Resolution {
    const registry = this.#registry;
    const instances = registry.lookup(meta.service, meta.versionRange);
    const departedFrom = instances.length === 0 ? registry.departedFrom(meta.service) : undefined;
    const departedSites =
      meta.site === undefined ? undefined : registry.departedSites(meta.service);
    const similar = instances.length === 0 ? registry.similarService(meta.service) : undefined;
    return { site: registry.site, instances, departedFrom, departedSites, similar };
  }

  /** A dead instance leaves the registry when its lease runs out. */
  forget(): void {}
}

/**
 * Forwards thin clients' calls: picks an instance from the registry (at the
 * site the call heads for, when it names one) and sends it the untouched body
 * with the caller's reply subject, so that the instance answers the caller
 * directly and the broker only hears that the call ended. Instances found
 * gone are skipped while the budget lasts.
 */
export class Forwarder {
  readonly #invoker: Invoker;
  readonly #router: InstanceRouter;
  readonly #held = new HeldCalls();

  constructor(registry: Registry, invoker: Invoker, balancer: LoadBalancer, subjects: Subjects) {
    this.#invoker = invoker;
    this.#router = new InstanceRouter(new RegistrySource(registry), balancer, subjects);
  }

  /**
   * Forwards a call received at `receivedAt` whose answer goes to `replyTo`.
   * Resolves with the outcome as the broker saw it: a result with an empty
   * body is the instance's notice that it answered the caller.
   */
  forward(
    meta: CallMeta,
    body: Uint8Array,
    replyTo: string,
    receivedAt: number,
  ): Promise<CallReply> {
    const picker = this.#router.picker(meta);
    const deadline = receivedAt + meta.budgetMs;
    const call = { meta, body, deadline, idempotent: false, replyTo, heldIn: this.#held };
    const tracer = activeTracer();
    if (!tracer) return failover(this.#invoker, call, picker);
    const site = this.#router.source.site ?? '';
    return traceHop(tracer, `forward at ${site}`, meta, { 'switchboard.site': site }, (trace) => {
      meta.traceparent = trace.traceparent;
      meta.tracestate = trace.tracestate;
      return failover(this.#invoker, call, picker);
    });
  }

  /** Ends the forwarded calls in flight to an instance that stopped heartbeating. */
  abandon(instance: InstanceView): void {
    const reason = `instance ${instance.id} stopped heartbeating while the call was in flight`;
    this.#invoker.abandon(this.#router.subject(instance), reason);
  }

  /** Asks an instance whose connection moved which forwarded calls it still holds; ends the others. */
  probe(instance: InstanceView): void {
    const reason = `instance ${instance.id} lost the call when its connection to NATS moved`;
    void this.#invoker.probe(this.#router.subject(instance), reason);
  }

  /** Passes a thin client's cancel notice to the instance holding the call, if any. */
  cancel(meta: CallMeta): void {
    this.#held.cancel(meta, this.#invoker);
  }
}
