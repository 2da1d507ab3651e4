/**
 * Per-link policy: which services a link lets through, as glob patterns on
 * service names (`*` any run of characters, `?` one character).
 */

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
