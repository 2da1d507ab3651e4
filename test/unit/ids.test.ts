import { describe, expect, test } from 'vitest';
import { holderTag } from '../../src/util/holder-tag.js';
import { newId, randomString } from '../../src/util/ids.js';

describe('newId', () => {
  test('ids have the length asked for, of lowercase letters and digits', () => {
    for (const length of [1, 8, 16, 24, 100])
      expect(newId(length)).toMatch(new RegExp(`^[0-9a-z]{${length}}$`));
    expect(newId()).toHaveLength(16);
  });

  test('ids drawn across many refills of the random pool do not repeat', () => {
    // 20,000 ids of 16 characters use about 80 pools of 4 KiB.
    const ids = new Set(Array.from({ length: 20_000 }, () => newId()));
    expect(ids.size).toBe(20_000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]{16}$/);
    // A length that does not divide the pool's: ids straddle refills.
    for (let i = 0; i < 5_000; i++) expect(newId(7)).toMatch(/^[0-9a-z]{7}$/);
  });

  test('every character of the alphabet occurs, spread about evenly', () => {
    const counts = new Map<string, number>();
    for (const c of newId(36_000)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(36);
    for (const n of counts.values()) expect(n).toBeGreaterThan(700);
  });

  test('randomString draws from the alphabet it is given', () => {
    expect(randomString('ab', 200)).toMatch(/^[ab]{200}$/);
    expect(new Set(randomString('ab', 200))).toEqual(new Set(['a', 'b']));
    expect(randomString('xyz', 0)).toBe('');
    expect(() => randomString('', 4)).toThrow(RangeError);
    expect(() => randomString('x'.repeat(257), 4)).toThrow(RangeError);
  });
});

describe('holderTag', () => {
  test('the tag is the first 16 characters of the base64url SHA-256 of the secret (the vector of docs/protocol.md)', () => {
    expect(holderTag('0123456789abcdef')).toBe('n59REfeyengfHx3d');
    expect(holderTag('0123456789abcdeg')).not.toBe(holderTag('0123456789abcdef'));
  });
});
