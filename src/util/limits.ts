/**
 * Checks limits given as an option, `{ field: number }` over the fields of
 * `defaults`: every field known, every value a positive integer. `name`
 * names a field in the error (e.g. `broker option 'limits.maxCalls'`).
 */
export function checkLimits(
  given: object | undefined,
  defaults: object,
  name: (field: string) => string,
  kind: string,
): void {
  for (const [field, value] of Object.entries(given ?? {})) {
    if (!(field in defaults)) throw new TypeError(`${name(field)} is not ${kind}`);
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new TypeError(`${name(field)} must be a positive integer (got ${value})`);
    }
  }
}
