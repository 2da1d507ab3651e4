import type { InstanceView } from '../protocol/index.js';

/** How a caller spreads calls over the nearest instances of a service. */
export type BalancePolicy = 'round-robin' | 'least-outstanding';

/** The load-balancing policies, for option checks and CLI choices. */
export const BALANCE_POLICIES: readonly BalancePolicy[] = ['round-robin', 'least-outstanding'];

/**
 * When an instance is avoided for timing out (as gRPC's outlier detection and
 * Envoy's ejection do): after `consecutiveTimeouts` calls in a row got no
 * answer, for `baseEjectionMs`, doubling with each ejection up to
 * `maxEjectionMs`, as long as other instances remain.
 */
export interface EjectionPolicy {
  /** @default 3 */
  consecutiveTimeouts: number;
  /** @default 5000 */
  baseEjectionMs: number;
  /** @default 60000 */
  maxEjectionMs: number;
}

/** The defaults of {@link EjectionPolicy}. */
export const DEFAULT_EJECTION: Readonly<EjectionPolicy> = Object.freeze({
  consecutiveTimeouts: 3,
  baseEjectionMs: 5000,
  maxEjectionMs: 60_000,
});

/** Instances whose timeouts are remembered at most (past it the oldest are forgotten). */
const MAX_TRACKED = 10_000;

interface Health {
  /** Calls in a row that got no answer. */
  streak: number;
  ejections: number;
  /** Until when (epoch ms) the instance is avoided. */
  until: number;
}

/**
 * Picks an instance for each call: the nearest ones first (local before
 * remote, then fewest hops), and among those, per the policy, avoiding
 * instances ejected for timing out while others remain. Pure logic: the
 * caller reports when calls start and end, and how they ended.
 */
export class LoadBalancer {
  readonly policy: BalancePolicy;
  readonly #ejection: EjectionPolicy;
  readonly #now: () => number;
  #next = 0;
  readonly #outstanding = new Map<string, number>();
  readonly #health = new Map<string, Health>();

  constructor(
    policy: BalancePolicy = 'round-robin',
    ejection: EjectionPolicy = DEFAULT_EJECTION,
    now: () => number = Date.now,
  ) {
    this.policy = policy;
    this.#ejection = ejection;
    this.#now = now;
  }

  /**
   * Chooses among `instances`, skipping the ids in `exclude` and, while
   * others remain, the ejected ones; undefined when none is left.
   */
  pick(
    instances: readonly InstanceView[],
    exclude?: ReadonlySet<string>,
  ): InstanceView | undefined {
    if (this.#health.size > 0) {
      const avoided = this.#ejected(instances, exclude);
      if (avoided) return this.#pick(instances, avoided);
    }
    return this.#pick(instances, exclude);
  }

  /** The instance `id` answered a call (or refused it): its timeout streak ends. */
  answered(id: string): void {
    const health = this.#health.get(id);
    if (health && health.until <= this.#now()) this.#health.delete(id);
    else if (health) health.streak = 0;
  }

  /** A call to `id` got no answer within its deadline. */
  timedOut(id: string): void {
    let health = this.#health.get(id);
    if (!health) {
      if (this.#health.size >= MAX_TRACKED) this.#health.delete(this.#health.keys().next().value!);
      health = { streak: 0, ejections: 0, until: 0 };
      this.#health.set(id, health);
    }
    if (++health.streak < this.#ejection.consecutiveTimeouts) return;
    health.streak = 0;
    health.ejections++;
    const { baseEjectionMs, maxEjectionMs } = this.#ejection;
    const ms = Math.min(baseEjectionMs * 2 ** (health.ejections - 1), maxEjectionMs);
    health.until = this.#now() + ms;
  }

  /** Whether `id` is avoided now. */
  isEjected(id: string): boolean {
    return (this.#health.get(id)?.until ?? 0) > this.#now();
  }

  /**
   * `exclude` plus the ejected instances, when that leaves a candidate;
   * undefined when no instance is ejected or none would be left.
   */
  #ejected(
    instances: readonly InstanceView[],
    exclude: ReadonlySet<string> | undefined,
  ): ReadonlySet<string> | undefined {
    let avoided: Set<string> | undefined;
    let left = false;
    for (const inst of instances) {
      if (exclude?.has(inst.id)) continue;
      if (!this.isEjected(inst.id)) {
        left = true;
        continue;
      }
      avoided ??= new Set(exclude);
      avoided.add(inst.id);
    }
    return avoided && left ? avoided : undefined;
  }

  #pick(
    instances: readonly InstanceView[],
    exclude: ReadonlySet<string> | undefined,
  ): InstanceView | undefined {
    let nearest = Number.POSITIVE_INFINITY;
    let count = 0;
    for (const inst of instances) {
      if (exclude?.has(inst.id)) continue;
      if (inst.hops < nearest) {
        nearest = inst.hops;
        count = 1;
      } else if (inst.hops === nearest) {
        count++;
      }
    }
    if (count === 0) return undefined;
    const start = this.#next++ % count;
    if (this.#next > 0x3fffffff) this.#next = 0;
    if (this.policy === 'round-robin') return nth(instances, exclude, nearest, start);
    // least-outstanding: fewest calls in flight; ties go to the candidate that
    // comes first from a rotating start, so equal loads still take turns.
    let best: InstanceView | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    let bestTurn = count;
    let index = 0;
    for (const inst of instances) {
      if (inst.hops !== nearest || exclude?.has(inst.id)) continue;
      const load = this.#outstanding.get(inst.id) ?? 0;
      const turn = (index++ - start + count) % count;
      if (load < bestLoad || (load === bestLoad && turn < bestTurn)) {
        best = inst;
        bestLoad = load;
        bestTurn = turn;
      }
    }
    return best;
  }

  /** Records that a call to `id` started. */
  begin(id: string): void {
    this.#outstanding.set(id, (this.#outstanding.get(id) ?? 0) + 1);
  }

  /** Records that a call to `id` ended. */
  end(id: string): void {
    const n = (this.#outstanding.get(id) ?? 1) - 1;
    if (n <= 0) this.#outstanding.delete(id);
    else this.#outstanding.set(id, n);
  }

  /** Calls in flight to `id`. */
  outstanding(id: string): number {
    return this.#outstanding.get(id) ?? 0;
  }
}

function nth(
  instances: readonly InstanceView[],
  exclude: ReadonlySet<string> | undefined,
  hops: number,
  index: number,
): InstanceView | undefined {
  let seen = 0;
  for (const inst of instances) {
    if (inst.hops !== hops || exclude?.has(inst.id)) continue;
    if (seen++ === index) return inst;
  }
  return undefined;
}
