/**
 * Per-link policy: which services a link lets through, as glob patterns on
 * service names (`*` any run of characters, `?` one character).
 */

/** What a glob may be made of, for messages. */
export const GLOB_SYNTAX =
  "letters, digits, '_' and '-' (as in service names), '*' for any run of them and '?' for one";

/** The characters of a service name, plus the two wildcards. */
const GLOB_PATTERN = /^[A-Za-z0-9_*?-]+$/;

/** Whether `glob` is a pattern of service names: {@link GLOB_SYNTAX}. */
export function isValidGlob(glob: string): boolean {
  return GLOB_PATTERN.test(glob);
}

/**
 * Throws a `TypeError` naming `field` and the first of `globs` that is not a
 * pattern of service names (such a glob would silently match nothing).
 */
export function checkGlobs(globs: readonly string[], field: string): void {
  const bad = globs.find((glob) => !isValidGlob(glob));
  if (bad !== undefined) {
    throw new TypeError(`${field}: '${bad}' is not a glob of service names: ${GLOB_SYNTAX}`);
  }
}

/** Compiles glob patterns into one test; no pattern at all lets everything through. */
export function globFilter(patterns: readonly string[] | undefined): (name: string) => boolean {
  if (!patterns || patterns.length === 0) return () => true;
  const regexes = patterns.map(globToRegExp);
  return (name) => regexes.some((re) => re.test(name));
}

/** Turns one glob into an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const ch of glob) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
