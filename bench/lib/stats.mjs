/** Small statistics and formatting helpers of the benchmark. */

/** The p-th percentile (0..100) of `values` (nearest rank on a sorted copy). */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Median of numbers (NaN for none). */
export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Rounds to `digits` decimals. */
export function round(x, digits = 1) {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Left- or right-aligned fixed-width cell. */
export function cell(value, width, align = 'right') {
  const s = String(value);
  if (s.length >= width) return s;
  return align === 'right' ? s.padStart(width) : s.padEnd(width);
}

/** A ratio for display, like `1.62×`. */
export function times(x) {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : 'n/a';
}
