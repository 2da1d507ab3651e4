/**
 * Choosing instances for the failover loop: the nearest ones of the service
 * (only those at the pinned site, when the call heads for one), spread by the
 * load balancer, each tried at most once per call.
 */

import type { Subjects } from '../protocol/index.js';
import {
  type CallMeta,
  ErrorCode,
  type InstanceView,
  SwitchboardError,
} from '../protocol/index.js';
import { getOrCreate } from '../util/index.js';
import { exhausted, notFound } from './call-errors.js';
import type { Attempt, FailoverCall, Picker } from './failover.js';
import type { LoadBalancer } from './load-balancer.js';
import type { CallReply, Resolution } from './types.js';

/** Where the instances of a service come from: a broker's registry, or a client's resolver. */
export interface CandidateSource {
  /** Site of this source (the caller's site), once known. */
  readonly site: string | undefined;
  /** The instances of `meta.service` within `meta.versionRange`. */
  candidates(meta: CallMeta, timeoutMs: number): Resolution | Promise<Resolution>;
  /** An instance did not answer at all: stop offering it until the source learns better. */
  forget(service: string, id: string): void;
}

/**
 * Makes the per-call {@link Picker}s over one source and one balancer. Calls
 * that head for a site (pinned by the caller, or carried on by a relay) only
 * go to instances hosted there.
 */
export class InstanceRouter {
  readonly source: CandidateSource;
  readonly balancer: LoadBalancer;
  readonly #subjects: Subjects;
  /** Instances per hosting site, kept as long as the source keeps the same array (relays filter on every call). */
  readonly #bySite = new WeakMap<readonly InstanceView[], Map<string, readonly InstanceView[]>>();

  constructor(source: CandidateSource, balancer: LoadBalancer, subjects: Subjects) {
    this.source = source;
    this.balancer = balancer;
    this.#subjects = subjects;
  }

  /**
   * A picker for one call. The call's `meta.site`, when set, pins the
   * hosting site. Its `subject` is that of the instance tried last.
   */
  picker(meta: CallMeta): Picker & { readonly subject: string } {
    return new InstancePicker(this, meta.site);
  }

  /** The subject an instance takes calls on (a route's, when it is one). */
  subject(instance: InstanceView): string {
    return instance.hops > 0
      ? this.#subjects.route(instance.service, instance.id)
      : this.#subjects.instance(instance.service, instance.id);
  }

  /**
   * The instances hosted at `site`. Kept for the sites that host some only:
   * callers name the site (a thin client at a broker may name any).
   */
  atSite(instances: readonly InstanceView[], site: string): readonly InstanceView[] {
    const bySite = getOrCreate(this.#bySite, instances, () => new Map());
    const kept = bySite.get(site);
    if (kept) return kept;
    const found = instances.filter((i) => i.site === site);
    if (found.length > 0) bySite.set(site, found);
    return found;
  }
}

class InstancePicker implements Picker, Attempt {
  readonly #router: InstanceRouter;
  readonly #pinned: string | undefined;
  #skipped: Set<string> | undefined;
  /** Places given a second try after losing the call on the way. */
  #retried: Set<string> | undefined;
  #chosen: InstanceView | undefined;
  subject = '';

  constructor(router: InstanceRouter, pinned: string | undefined) {
    this.#router = router;
    this.#pinned = pinned;
  }

  get site(): string | undefined {
    return this.#router.source.site;
  }

  next(
    call: FailoverCall,
    lastError: SwitchboardError | undefined,
  ): Attempt | SwitchboardError | Promise<Attempt | SwitchboardError> {
    let resolution: Resolution | Promise<Resolution>;
    try {
      resolution = this.#router.source.candidates(call.meta, call.deadline - Date.now());
    } catch (err) {
      return asError(err);
    }
    if (resolution instanceof Promise) {
      return resolution.then((r) => this.#choose(call, r, lastError), asError);
    }
    return this.#choose(call, resolution, lastError);
  }

  #choose(
    call: FailoverCall,
    resolution: Resolution,
    lastError: SwitchboardError | undefined,
  ): Attempt | SwitchboardError {
    const { meta } = call;
    const router = this.#router;
    // A call that starts here has this site as its origin.
    if (meta.path.length === 0) meta.path = [resolution.site];
    let instances = resolution.instances;
    if (this.#pinned !== undefined) instances = router.atSite(instances, this.#pinned);
    if (instances.length === 0 && lastError === undefined) {
      return notFound(meta, this.#pinned, resolution);
    }
    const chosen = router.balancer.pick(instances, this.#skipped);
    if (!chosen) return exhausted(meta, lastError, resolution.site);
    // A remote route keeps the call heading for the site it chose.
    meta.site = this.#pinned ?? (chosen.hops > 0 ? chosen.site : undefined);
    router.balancer.begin(chosen.id);
    this.#chosen = chosen;
    this.subject = router.subject(chosen);
    return this;
  }

  end(reply: CallReply): void {
    const chosen = this.#chosen;
    if (!chosen) return;
    this.#chosen = undefined;
    const router = this.#router;
    const { balancer } = router;
    balancer.end(chosen.id);
    if (reply.ok) return balancer.answered(chosen.id);
    // Our own connection went down: the instance is not to blame, and may be tried again.
    if (reply.linkDown) return;
    if (reply.body) balancer.answered(chosen.id);
    else if (reply.error.code === ErrorCode.TIMEOUT) balancer.timedOut(chosen.id);
    // Lost on the way (the instance's connection moved, or beyond a route the
    // far instance or link went): the place is not to blame, and an
    // idempotent call may take it once more (failover retries only those).
    if (lostOnTheWay(reply.error) && !this.#retried?.has(chosen.id)) {
      this.#retried ??= new Set();
      this.#retried.add(chosen.id);
      return;
    }
    this.#skipped ??= new Set();
    this.#skipped.add(chosen.id);
    const { error } = reply;
    // "No responders": the instance is gone, whatever the registry still says.
    if (error.code === ErrorCode.UNAVAILABLE && error.completed === 'no' && !reply.body) {
      router.source.forget(chosen.service, chosen.id);
    }
  }
}

function lostOnTheWay(err: SwitchboardError): boolean {
  return err.code === ErrorCode.UNAVAILABLE && err.completed === 'maybe';
}

function asError(err: unknown): SwitchboardError {
  if (err instanceof SwitchboardError) return err;
  return new SwitchboardError(ErrorCode.INTERNAL, `cannot resolve the service: ${String(err)}`, {
    completed: 'no',
    cause: err,
  });
}
