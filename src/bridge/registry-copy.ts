import type { InstanceEvent } from '../core/index.js';
import type { InstanceView } from '../protocol/index.js';
import { getOrCreate } from '../util/index.js';

/**
 * Most instances registry events may add to a copy between two full
 * listings. Events are untrusted: past this, the copy is read whole again
 * rather than grown further.
 */
export const MAX_ADDED_BY_EVENTS = 10_000;

/**
 * A bridge half's copy of its site's registry: a full listing, with the
 * registry events heard since applied to it (an `up` carrying the
 * instance's view, or a `down`).
 */
export class RegistryCopy {
  readonly #byService = new Map<string, Map<string, InstanceView>>();
  #added = 0;

  constructor(instances: Iterable<InstanceView>) {
    for (const instance of instances)
      this.#instancesOf(instance.service).set(instance.id, instance);
  }

  /**
   * Applies `event` (an `up` without a view, or `resumed`, changes nothing);
   * false when it would add more than {@link MAX_ADDED_BY_EVENTS} instances
   * since the listing: then read the registry whole again.
   */
  apply(event: InstanceEvent): boolean {
    if (event.kind === 'down') {
      const instances = this.#byService.get(event.service);
      instances?.delete(event.id);
      if (instances?.size === 0) this.#byService.delete(event.service);
      return true;
    }
    if (event.kind !== 'up' || !event.view) return true;
    if (!this.get(event.service, event.id)) {
      if (this.#added >= MAX_ADDED_BY_EVENTS) return false;
      this.#added++;
    }
    this.#instancesOf(event.service).set(event.id, event.view);
    return true;
  }

  /** The instance `id` of `service`, if the copy holds it. */
  get(service: string, id: string): InstanceView | undefined {
    return this.#byService.get(service)?.get(id);
  }

  /** Replaces the instances of `service` (with what a lookup found). */
  set(service: string, instances: readonly InstanceView[]): void {
    if (instances.length === 0) this.#byService.delete(service);
    else this.#byService.set(service, new Map(instances.map((i) => [i.id, i])));
  }

  /** The instances of `service`. */
  instances(service: string): InstanceView[] {
    const instances = this.#byService.get(service);
    return instances ? [...instances.values()] : [];
  }

  /** Every instance. */
  all(): InstanceView[] {
    return [...this.#byService.values()].flatMap((instances) => [...instances.values()]);
  }

  #instancesOf(service: string): Map<string, InstanceView> {
    return getOrCreate(this.#byService, service, () => new Map());
  }
}
