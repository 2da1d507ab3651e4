/**
 * Checks of the names every call carries, written out by hand: each answers
 * exactly as its pattern's `test` (`NAME_PATTERN`, `CALL_ID_PATTERN`, a
 * budget of 1 to 16 digits) at a fraction of a regular expression's cost
 * (its entry into the regexp engine costs more than reading a short name).
 * A server reads three of them on every call, and a client two. What is
 * not a string is none of them (a pattern's `test` would read `undefined`
 * as the name "undefined").
 */

const NAME_FIRST = 1;
const NAME_REST = 2;
const CALL_ID = 4;
const DIGIT = 8;

/** What each ASCII character may be, as bits of the classes above. */
const CLASSES = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  const letter = /[A-Za-z]/.test(ch);
  const digit = /[0-9]/.test(ch);
  if (letter || ch === '_') CLASSES[c]! |= NAME_FIRST;
  if (letter || digit || ch === '_' || ch === '-') CLASSES[c]! |= NAME_REST;
  if (letter || digit || ch === '_' || ch === '-' || ch === '.' || ch === ':') {
    CLASSES[c]! |= CALL_ID;
  }
  if (digit) CLASSES[c]! |= DIGIT;
}

/** Whether every character of `text` from `from` on is of `kind` (none outside ASCII is). */
function allOf(text: string, from: number, kind: number): boolean {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || (CLASSES[c]! & kind) === 0) return false;
  }
  return true;
}

/** `NAME_PATTERN.test(text)`: a letter or `_`, then letters, digits, `_` and `-`; at most 128. */
export function isName(text: string): boolean {
  if (typeof text !== 'string') return false;
  const length = text.length;
  if (length === 0 || length > 128) return false;
  const first = text.charCodeAt(0);
  if (first >= 128 || (CLASSES[first]! & NAME_FIRST) === 0) return false;
  return allOf(text, 1, NAME_REST);
}

/** `CALL_ID_PATTERN.test(text)`: 1 to 128 letters, digits, `_`, `-`, `.` or `:`. */
export function isCallId(text: string): boolean {
  return (
    typeof text === 'string' && text.length >= 1 && text.length <= 128 && allOf(text, 0, CALL_ID)
  );
}

/** `/^\d{1,16}$/.test(text)`: a budget in whole milliseconds. */
export function isBudget(text: string): boolean {
  return typeof text === 'string' && text.length >= 1 && text.length <= 16 && allOf(text, 0, DIGIT);
}
