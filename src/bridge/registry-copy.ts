import type { InstanceEvent } from '../core/index.js';
import { type InstanceView, viewSize } from '../protocol/index.js';
import { getOrCreate } from '../util/index.js';

/**
 * Most instances registry events may add to a copy between two full
 * listings. Events are untrusted: past this, the copy is read whole again
 * rather than grown further.
 */
export const MAX_ADDED_BY_EVENTS = 10_000;

/**
 * Most bytes of instance views (about their encoded size, `viewSize`)
 * registry events may bring into a copy between two full listings, new
 * instances and replaced views alike. Each view is bounded only by NATS's
 * max_payload: past this, the copy is read whole again.
 */
export const MAX_BYTES_ADDED_BY_EVENTS = 16 * 1024 * 1024;

/**
 * A bridge half's copy of its site's registry: a full listing, with the
 * registry events heard since applied to it (an `up` carrying the
 * instance's view, or a `down`).
 */
export class RegistryCopy {
  readonly #byService = new Map<string, Map<string, InstanceView>>();
  #added = 0;
  #addedBytes = 0;

  constructor(instances: Iterable<InstanceView>) {
    for (const instance of instances)
      this.#instancesOf(instance.service).set(instance.id, instance);
  }

  /**
   * Applies `event` (an `up` without a view, or `resumed`, changes nothing);
   * false, changing nothing, when it would add more than
   * {@link MAX_ADDED_BY_EVENTS} instances or {@link MAX_BYTES_ADDED_BY_EVENTS}
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
    const isNew = !this.get(event.service, event.id);
    const bytes = viewSize(event.view);
    if (isNew && this.#added >= MAX_ADDED_BY_EVENTS) return false;
    if (this.#addedBytes + bytes > MAX_BYTES_ADDED_BY_EVENTS) return false;
    if (isNew) this.#added++;
    this.#addedBytes += bytes;
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
