/** How the page says numbers and times. Pure: no DOM. */
import type { ErrorRates } from '../snapshot.js';

/** `0`, `0.3/s`, `12/s`. */
export function rate(perSecond: number): string {
  if (perSecond === 0) return '0';
  if (perSecond >= 10) return `${Math.round(perSecond)}/s`;
  return `${Math.round(perSecond * 100) / 100}/s`;
}

/** `APPLICATION 0.2/s, TIMEOUT 0.1/s`, or `none`. */
export function errorRates(errors: ErrorRates): string {
  const entries = Object.entries(errors).filter(([, r]) => r > 0);
  if (entries.length === 0) return 'none';
  return entries
    .sort(([, x], [, y]) => y - x)
    .map(([code, r]) => `${code === '?' ? 'code unknown' : code} ${rate(r)}`)
    .join(', ');
}

/** `14:03:07`, in the browser's time zone. */
export function clock(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString([], { hour12: false });
}

/** `a → b → c`. */
export function pathText(sites: readonly string[]): string {
  return sites.join(' → ');
}

/** `1 site`, `2 sites`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
