import type { InstanceView } from '../protocol/index.js';

/** How a caller spreads calls over the nearest instances of a service. */
export type BalancePolicy = 'round-robin' | 'least-outstanding';

/** The load-balancing policies, for option checks and CLI choices. */
export const BALANCE_POLICIES: readonly BalancePolicy[] = ['round-robin', 'least-outstanding'];

/**
 * Picks an instance for each call: the nearest ones first (local before
 * remote, then fewest hops), and among those, per the policy. Pure logic: the
 * caller reports when calls start and end so least-outstanding can count.
 */
export class LoadBalancer {
  readonly policy: BalancePolicy;
  #next = 0;
  readonly #outstanding = new Map<string, number>();

  constructor(policy: BalancePolicy = 'round-robin') {
    this.policy = policy;
  }

  /** Chooses among `instances`, skipping the ids in `exclude`; undefined when none is left. */
  pick(
    instances: readonly InstanceView[],
    exclude?: ReadonlySet<string>,
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
