import type { CallContext, ServiceDefinition } from '../../index.js';
import { methodsOf } from '../../proxies/index.js';

/**
 * Counts the calls each demo server handled and remembers the path of the
 * last one, to show which instance served a call and which sites it crossed.
 */
export class ServedLog {
  readonly #counts = new Map<string, number>();
  #lastPath: readonly string[] = [];

  /** `service` with each call counted for `instanceId`. */
  wrap(service: ServiceDefinition, instanceId: string): ServiceDefinition {
    const methods: Record<string, (...args: unknown[]) => unknown> = {};
    for (const [name, handler] of methodsOf(service.methods)) {
      methods[name] = (...args) => {
        this.#counts.set(instanceId, (this.#counts.get(instanceId) ?? 0) + 1);
        // Every handler gets the caller's arguments, then its CallContext.
        this.#lastPath = (args.at(-1) as CallContext).path;
        return handler(...args);
      };
    }
    return { ...service, methods };
  }

  /** The counts now, to compare with later through {@link ServedLog.since}. */
  snapshot(): ReadonlyMap<string, number> {
    return new Map(this.#counts);
  }

  /** Sites the last call crossed, the caller's first. */
  get lastPath(): readonly string[] {
    return this.#lastPath;
  }

  /** Calls `instanceId` handled since `before`. */
  countSince(before: ReadonlyMap<string, number>, instanceId: string): number {
    return (this.#counts.get(instanceId) ?? 0) - (before.get(instanceId) ?? 0);
  }

  /** `calc-1`, or `calc-1 (1 call), calc-2 (3 calls)`: who served the calls since `before`. */
  since(before: ReadonlyMap<string, number>): string {
    const counts = [...this.#counts.keys()]
      .map((id) => [id, this.countSince(before, id)] as const)
      .filter(([, n]) => n > 0);
    if (counts.length === 1 && counts[0]?.[1] === 1) return counts[0][0];
    return counts.map(([id, n]) => `${id} (${n} call${n === 1 ? '' : 's'})`).join(', ');
  }
}
