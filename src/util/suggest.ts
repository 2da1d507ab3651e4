/**
 * "Did you mean ...?": the known name nearest to a mistyped one, by edit
 * distance (insertions, deletions, substitutions and swaps of neighbours).
 */

/** The shortest candidate offered for a word that starts with it. */
const MIN_STEM = 3;

/** Edit distance between `a` and `b`, a swap of two neighbours counting as one edit. */
export function editDistance(a: string, b: string): number {
  // Three rows of the dynamic-programming table are enough: this one and the two before.
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, (before[j - 2] ?? 0) + 1);
      }
      current.push(d);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The candidate `word` most likely stands for: the nearest one within a third
 * of the word's length in edits (at least one), ignoring case, or else the only
 * candidate that starts with `word` or has it after a `-` (`version` for
 * `service-version`), or that `word` starts with (`warn` for `warning`).
 * Undefined when none is close enough.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const extending: string[] = [];
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const name = candidate.toLowerCase();
    // Lengths further apart than the limit are too many edits apart: the table
    // is not worth filling (a peer's made-up name is checked against every service).
    if (Math.abs(name.length - lower.length) <= limit) {
      const distance = editDistance(lower, name);
      if (distance < bestDistance) {
        best = candidate;
        bestDistance = distance;
      }
    }
    const contains = name.startsWith(lower) || name.includes(`-${lower}`);
    const within = name.length >= MIN_STEM && lower.startsWith(name);
    if (word !== '' && (contains || within)) extending.push(candidate);
  }
  if (best !== undefined && bestDistance <= limit) return best;
  return extending.length === 1 ? extending[0] : undefined;
}
