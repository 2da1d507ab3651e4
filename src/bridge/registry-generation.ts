/**
 * Where a registry event stands against the generation a copy of the
 * registry is at. Generations are named `<brokerId>.<count>`: the count of
 * changes one broker made to its registry, which only grows while it runs.
 *
 * - `follows`: the event goes on from the copy's generation (`since` is it,
 *   and `generation` is further on, of the same broker).
 * - `past`: the same broker's event, for a change the copy already holds (it
 *   was in the listing), or one claiming to be (forged): nothing to apply.
 * - `gap`: the same broker's event, from further on: one was missed between.
 * - `other`: another broker's event, one without generations (an older
 *   broker) or whose generations do not go forward, or a copy at no known
 *   generation.
 */
export type EventPlace = 'follows' | 'past' | 'gap' | 'other';

/** Places an event that took its broker's registry from `since` to `generation` against `current`. */
export function placeEvent(
  current: string | undefined,
  since: string | undefined,
  generation: string | undefined,
): EventPlace {
  const at = split(current);
  const from = split(since);
  const to = split(generation);
  if (!at || !from || !to) return 'other';
  if (from.broker !== at.broker || to.broker !== at.broker || to.count <= from.count)
    return 'other';
  if (since === current) return 'follows';
  return to.count <= at.count ? 'past' : 'gap';
}

const NAMED = /^(.+)\.(\d{1,15})$/;

function split(generation: string | undefined): { broker: string; count: number } | undefined {
  const match = generation === undefined ? null : NAMED.exec(generation);
  return match ? { broker: match[1]!, count: Number(match[2]) } : undefined;
}
