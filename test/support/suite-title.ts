/** A suite title: `area`, or `area (skipped: what is missing)` (scripts/test-summary.mjs lists these). */
export function suiteTitle(area: string, missing: readonly string[]): string {
  return missing.length === 0 ? area : `${area} (skipped: ${missing.join('; ')})`;
}
