import { describe, expect, test } from 'vitest';
import { CALL_ID_PATTERN, NAME_PATTERN } from '../../src/protocol/envelopes.js';
import { isBudget, isCallId, isName } from '../../src/protocol/name-checks.js';
import { mulberry32 } from '../support/seeded-random.js';

const BUDGET_PATTERN = /^\d{1,16}$/;

/** Characters around every class boundary, and some far outside ASCII. */
const ALPHABET = [
  ...'azAZ09_-.:;,/ @`[{~\t\n\r\0',
  '\u007f',
  '\u0080',
  'é',
  '\u0660', // an Arabic-Indic digit: not \d without the u flag
  '\ufeff',
  '\ud83d',
];

describe('name checks', () => {
  test('name checks - each answers as its pattern on every ASCII character and on random strings of 0 to 130', () => {
    const checks: Array<[(text: string) => boolean, RegExp]> = [
      [isName, NAME_PATTERN],
      [isCallId, CALL_ID_PATTERN],
      [isBudget, BUDGET_PATTERN],
    ];
    const texts: string[] = [''];
    for (let c = 0; c < 256; c++) {
      const ch = String.fromCharCode(c);
      texts.push(ch, `a${ch}`, `${ch}a`, `1${ch}`, `${ch}1`);
    }
    const next = mulberry32(7);
    for (let i = 0; i < 20_000; i++) {
      // Lengths around each pattern's limits (16, 128), mostly of allowed characters.
      const length = [0, 1, 15, 16, 17, 127, 128, 129, 130][Math.floor(next() * 9)]!;
      const pool = next() < 0.5 ? ALPHABET.slice(0, 7) : ALPHABET;
      const digits = next() < 0.3;
      let text = '';
      for (let j = 0; j < length; j++) {
        text +=
          digits && next() < 0.97
            ? String(Math.floor(next() * 10))
            : pool[Math.floor(next() * pool.length)];
      }
      texts.push(text);
    }
    let accepted = 0;
    for (const text of texts) {
      for (const [check, pattern] of checks) {
        const expected = pattern.test(text);
        if (check(text) !== expected)
          throw new Error(`${check.name}(${JSON.stringify(text)}) should be ${expected}`);
        if (expected) accepted++;
      }
    }
    // What is not a string is no name (a pattern's test reads undefined as "undefined").
    for (const value of [undefined, null, 42, ['a'], { toString: () => 'a' }]) {
      for (const [check] of checks) expect(check(value as unknown as string)).toBe(false);
    }
    // Both answers are common: the comparison is not all one way.
    expect(accepted).toBeGreaterThan(5_000);
    expect(accepted).toBeLessThan(texts.length * 3 - 5_000);
  });
});
