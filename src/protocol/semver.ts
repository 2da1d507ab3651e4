/**
 * Versions and version ranges of services, with npm's semantics (the `semver`
 * package): pre-releases (`2.0.0-rc.1` is below `2.0.0` and only a range that
 * names a pre-release of the same `MAJOR.MINOR.PATCH` admits it), `^`, `~`,
 * `1.x`, comparators with or without spaces (`>= 1.2.0 <2`), hyphen ranges
 * (`1.2.3 - 2.0.0`) and alternatives joined by `||`.
 */
// The modules used, not the package's index: it loads all of semver (~50 ms at start-up).
import Range from 'semver/classes/range.js';
import compare from 'semver/functions/compare.js';
import parse from 'semver/functions/parse.js';
import valid from 'semver/functions/valid.js';
import validRange from 'semver/ranges/valid.js';

type Triple = readonly [number, number, number];

/** `MAJOR.MINOR.PATCH` of a version (its pre-release and build tags left out); undefined if malformed. */
export function parseVersion(text: string): Triple | undefined {
  const version = parse(text.trim());
  return version ? [version.major, version.minor, version.patch] : undefined;
}

/** Whether `text` is a semantic version, e.g. `1.2.3` or `2.0.0-rc.1`. */
export function isValidVersion(text: string): boolean {
  return valid(text.trim()) !== null;
}

/** Compares two versions, pre-releases below their release (malformed ones sort first). */
export function compareVersions(a: string, b: string): number {
  const va = valid(a.trim());
  const vb = valid(b.trim());
  if (va === null || vb === null) return va !== null ? 1 : vb !== null ? -1 : 0;
  return compare(va, vb);
}

/** A compiled version range; `test(version)` says whether a version satisfies it. */
export interface VersionRange {
  readonly source: string;
  test(version: string): boolean;
}

/** Longest version range taken: a peer's range is compiled at every hop and cached by its text. */
export const MAX_RANGE_LENGTH = 256;

/** Compiles a range (`''` and `*` admit every release); undefined when it is malformed or too long. */
export function parseRange(source: string): VersionRange | undefined {
  if (source.length > MAX_RANGE_LENGTH) return undefined;
  let range: Range;
  try {
    range = new Range(source);
  } catch {
    return undefined;
  }
  return {
    source,
    test(version: string): boolean {
      const checked = valid(version.trim());
      return checked !== null && range.test(checked);
    },
  };
}

/** Whether `text` is a version range {@link parseRange} compiles. */
export function isValidRange(text: string): boolean {
  return text.length <= MAX_RANGE_LENGTH && validRange(text) !== null;
}
