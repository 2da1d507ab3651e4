/**
 * The small part of semantic versioning that service lookup needs: versions
 * `MAJOR.MINOR.PATCH` and ranges `*`, `1.2.3`, `1.x`, `1.2.x`, `^1.2.3`, `~1.2.3`,
 * comparators (`>=1.2.0 <2.0.0`, space-joined) and alternatives joined by `||`.
 */

type Triple = readonly [number, number, number];

const VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/;

/** Parses `MAJOR.MINOR.PATCH` (pre-release and build tags are ignored); undefined if malformed. */
export function parseVersion(text: string): Triple | undefined {
  const m = VERSION.exec(text.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Whether `text` is a version this module understands. */
export function isValidVersion(text: string): boolean {
  return parseVersion(text) !== undefined;
}

function compare(a: Triple, b: Triple): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** Compares two versions (malformed ones sort first). */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) return pa ? 1 : pb ? -1 : 0;
  return compare(pa, pb);
}

type Test = (v: Triple) => boolean;

/** Parses a partial version such as `1`, `1.2`, `1.x`, `1.2.*` into defined parts. */
function parsePartial(text: string): number[] | undefined {
  const parts = text.replace(/^v/, '').split('.');
  if (parts.length > 3) return undefined;
  const out: number[] = [];
  for (const part of parts) {
    if (part === 'x' || part === 'X' || part === '*') break;
    if (!/^\d+$/.test(part)) return undefined;
    out.push(Number(part));
  }
  return out;
}

function padded(parts: number[]): Triple {
  return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
}

/** Compares a version with a partial one on the parts the partial has (`1.2` vs 1.2.9 is 0). */
function comparePrefix(v: Triple, parts: number[]): number {
  for (let i = 0; i < parts.length; i++) {
    const d = (v[i] ?? 0) - (parts[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function partialTest(parts: number[]): Test {
  return (v) => parts.every((p, i) => v[i] === p);
}

function comparatorTest(token: string): Test | undefined {
  if (token === '*' || token === 'x' || token === '') return () => true;
  const m = /^(\^|~|>=|<=|>|<|=)?(.+)$/.exec(token);
  if (!m) return undefined;
  const op = m[1] ?? '';
  const parts = parsePartial(m[2] ?? '');
  if (!parts) return undefined;
  const base = padded(parts);
  switch (op) {
    case '':
    case '=':
      return partialTest(parts);
    // As npm does: `>1.2` excludes every 1.2.x, `<=1.2` includes them all.
    case '>=':
      return (v) => comparePrefix(v, parts) >= 0;
    case '>':
      return (v) => comparePrefix(v, parts) > 0;
    case '<=':
      return (v) => comparePrefix(v, parts) <= 0;
    case '<':
      return (v) => comparePrefix(v, parts) < 0;
    case '~':
      return (v) =>
        compare(v, base) >= 0 && partialTest(parts.slice(0, Math.min(parts.length, 2)))(v);
    case '^': {
      const fixed = base[0] !== 0 ? 1 : base[1] !== 0 ? 2 : 3;
      return (v) => compare(v, base) >= 0 && partialTest(parts.slice(0, fixed))(v);
    }
    default:
      return undefined;
  }
}

/** A compiled version range; `test(version)` says whether a version satisfies it. */
export interface VersionRange {
  readonly source: string;
  test(version: string): boolean;
}

/** Compiles a range; returns undefined when it is malformed. */
export function parseRange(source: string): VersionRange | undefined {
  const alternatives: Test[][] = [];
  for (const alternative of source.split('||')) {
    const tests: Test[] = [];
    for (const token of alternative.trim().split(/\s+/)) {
      const test = comparatorTest(token);
      if (!test) return undefined;
      tests.push(test);
    }
    alternatives.push(tests);
  }
  return {
    source,
    test(version: string): boolean {
      const v = parseVersion(version);
      return v !== undefined && alternatives.some((tests) => tests.every((t) => t(v)));
    },
  };
}
