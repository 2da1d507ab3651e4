import { describe, expect, test } from 'vitest';
import { PROTOCOL_VERSION, parse } from '../../src/protocol/index.js';
import {
  compareVersions,
  isValidRange,
  isValidVersion,
  MAX_RANGE_LENGTH,
  parseRange,
  parseVersion,
} from '../../src/protocol/semver.js';

/** Versions of `candidates` that satisfy `range` (which must parse). */
function matching(range: string, candidates: string[]): string[] {
  const r = parseRange(range);
  expect(r, `range '${range}' should parse`).toBeDefined();
  return candidates.filter((v) => r?.test(v));
}

const VERSIONS = [
  '0.0.1',
  '0.0.3',
  '0.0.4',
  '0.1.0',
  '0.2.2',
  '0.2.3',
  '0.2.9',
  '0.3.0',
  '1.0.0',
  '1.2.0',
  '1.2.2',
  '1.2.3',
  '1.2.9',
  '1.3.0',
  '1.9.9',
  '2.0.0',
  '2.5.0',
  '3.0.0',
  '3.4.5',
  '4.0.0',
];

describe('semver', () => {
  test('semver - parseVersion reads MAJOR.MINOR.PATCH', () => {
    expect(parseVersion('1.2.3')).toEqual([1, 2, 3]);
    expect(parseVersion('0.0.0')).toEqual([0, 0, 0]);
    expect(parseVersion('10.20.30')).toEqual([10, 20, 30]);
    expect(parseVersion('v1.2.3')).toEqual([1, 2, 3]);
    expect(parseVersion('  1.2.3 ')).toEqual([1, 2, 3]);
  });

  test('semver - parseVersion ignores pre-release and build tags', () => {
    expect(parseVersion('1.2.3-beta.1')).toEqual([1, 2, 3]);
    expect(parseVersion('1.2.3+build.5')).toEqual([1, 2, 3]);
  });

  test('semver - parseVersion rejects malformed versions', () => {
    for (const text of ['', '1', '1.2', '1.2.3.4', 'a.b.c', '1.2.x', '^1.2.3', '1..3', '-1.2.3']) {
      expect(parseVersion(text), text).toBeUndefined();
      expect(isValidVersion(text)).toBe(false);
    }
    expect(isValidVersion('1.2.3')).toBe(true);
    expect(isValidVersion('2.0.0-rc.1')).toBe(true);
    expect(isValidVersion('1.2.3+build.5')).toBe(true);
  });

  test('semver - compareVersions orders numerically, not lexically', () => {
    expect(compareVersions('1.2.3', '1.2.3')).toBe(0);
    expect(compareVersions('1.2.3', '1.2.4')).toBeLessThan(0);
    expect(compareVersions('1.10.0', '1.9.0')).toBeGreaterThan(0);
    expect(compareVersions('2.0.0', '10.0.0')).toBeLessThan(0);
    expect(compareVersions('1.0.10', '1.0.2')).toBeGreaterThan(0);
    const sorted = ['10.0.0', '1.10.0', '1.2.0', '1.9.1', '0.0.1'].sort(compareVersions);
    expect(sorted).toEqual(['0.0.1', '1.2.0', '1.9.1', '1.10.0', '10.0.0']);
  });

  test('semver - compareVersions puts a pre-release below its release, in pre-release order', () => {
    expect(compareVersions('2.0.0-rc.1', '2.0.0')).toBeLessThan(0);
    expect(compareVersions('2.0.0-rc.1', '1.9.9')).toBeGreaterThan(0);
    const sorted = ['2.0.0', '2.0.0-rc.10', '2.0.0-beta', '2.0.0-rc.2', '2.0.0-alpha.1'].sort(
      compareVersions,
    );
    expect(sorted).toEqual(['2.0.0-alpha.1', '2.0.0-beta', '2.0.0-rc.2', '2.0.0-rc.10', '2.0.0']);
    // Build metadata does not order versions.
    expect(compareVersions('1.2.3+a', '1.2.3+b')).toBe(0);
  });

  test('semver - compareVersions sorts malformed versions first', () => {
    expect(compareVersions('junk', '0.0.1')).toBeLessThan(0);
    expect(compareVersions('0.0.1', 'junk')).toBeGreaterThan(0);
    expect(compareVersions('junk', 'other')).toBe(0);
  });

  test('semver - * and empty ranges match every valid version', () => {
    expect(matching('*', VERSIONS)).toEqual(VERSIONS);
    expect(matching('x', VERSIONS)).toEqual(VERSIONS);
    expect(matching('', VERSIONS)).toEqual(VERSIONS);
    expect(parseRange('*')?.test('not-a-version')).toBe(false);
  });

  test('semver - a range of more than 256 characters is refused', () => {
    const longest = `>=1.0.0${' '.repeat(249)}`;
    expect(longest).toHaveLength(MAX_RANGE_LENGTH);
    expect(isValidRange(longest)).toBe(true);
    expect(parseRange(longest)?.test('1.2.3')).toBe(true);
    expect(isValidRange(`${longest} `)).toBe(false);
    expect(parseRange(`${longest} `)).toBeUndefined();
    const lookup = { v: PROTOCOL_VERSION, service: 'calc', version: `${longest} ` };
    expect(() => parse.lookupRequest(lookup)).toThrow(
      "lookup.version '>=1.0.0" +
        ' '.repeat(57) +
        "…' (257 characters, over 256) is not a version range",
    );
  });

  test('semver - an exact range matches one version', () => {
    expect(matching('1.2.3', VERSIONS)).toEqual(['1.2.3']);
    expect(matching('=1.2.3', VERSIONS)).toEqual(['1.2.3']);
    expect(matching('v1.2.3', VERSIONS)).toEqual(['1.2.3']);
  });

  test('semver - 1.x and 1.2.x match their major or minor', () => {
    expect(matching('1.x', VERSIONS)).toEqual([
      '1.0.0',
      '1.2.0',
      '1.2.2',
      '1.2.3',
      '1.2.9',
      '1.3.0',
      '1.9.9',
    ]);
    expect(matching('1', VERSIONS)).toEqual(matching('1.x', VERSIONS));
    expect(matching('1.*', VERSIONS)).toEqual(matching('1.x', VERSIONS));
    expect(matching('1.2.x', VERSIONS)).toEqual(['1.2.0', '1.2.2', '1.2.3', '1.2.9']);
    expect(matching('1.2', VERSIONS)).toEqual(matching('1.2.x', VERSIONS));
  });

  test('semver - ^1.2.3 allows minor and patch updates', () => {
    expect(matching('^1.2.3', VERSIONS)).toEqual(['1.2.3', '1.2.9', '1.3.0', '1.9.9']);
  });

  test('semver - ^0.2.3 allows patch updates only', () => {
    expect(matching('^0.2.3', VERSIONS)).toEqual(['0.2.3', '0.2.9']);
  });

  test('semver - ^0.0.3 matches exactly 0.0.3', () => {
    expect(matching('^0.0.3', VERSIONS)).toEqual(['0.0.3']);
  });

  test('semver - caret on partial versions', () => {
    expect(matching('^1.2', VERSIONS)).toEqual([
      '1.2.0',
      '1.2.2',
      '1.2.3',
      '1.2.9',
      '1.3.0',
      '1.9.9',
    ]);
    expect(matching('^0.x', VERSIONS)).toEqual(VERSIONS.filter((v) => v.startsWith('0.')));
    expect(matching('^0.0', VERSIONS)).toEqual(['0.0.1', '0.0.3', '0.0.4']);
  });

  test('semver - ~1.2.3 allows patch updates', () => {
    expect(matching('~1.2.3', VERSIONS)).toEqual(['1.2.3', '1.2.9']);
  });

  test('semver - ~1.2 matches the 1.2 minor and ~1 the 1 major', () => {
    expect(matching('~1.2', VERSIONS)).toEqual(['1.2.0', '1.2.2', '1.2.3', '1.2.9']);
    expect(matching('~1', VERSIONS)).toEqual(matching('1.x', VERSIONS));
  });

  test('semver - >=1.2.0 <2.0.0 intersects its comparators', () => {
    expect(matching('>=1.2.0 <2.0.0', VERSIONS)).toEqual([
      '1.2.0',
      '1.2.2',
      '1.2.3',
      '1.2.9',
      '1.3.0',
      '1.9.9',
    ]);
    expect(matching('>1.2.3 <=2.0.0', VERSIONS)).toEqual(['1.2.9', '1.3.0', '1.9.9', '2.0.0']);
    expect(matching('  >=1.2.0    <1.3.0  ', VERSIONS)).toEqual([
      '1.2.0',
      '1.2.2',
      '1.2.3',
      '1.2.9',
    ]);
  });

  test('semver - 1.x || 3.x matches either alternative', () => {
    expect(matching('1.x || 3.x', VERSIONS)).toEqual([
      '1.0.0',
      '1.2.0',
      '1.2.2',
      '1.2.3',
      '1.2.9',
      '1.3.0',
      '1.9.9',
      '3.0.0',
      '3.4.5',
    ]);
    expect(matching('^0.2.3||~1.2.3||4.0.0', VERSIONS)).toEqual([
      '0.2.3',
      '0.2.9',
      '1.2.3',
      '1.2.9',
      '4.0.0',
    ]);
  });

  test('semver - a range rejects malformed versions', () => {
    const range = parseRange('^1.0.0');
    expect(range?.test('1.x')).toBe(false);
    expect(range?.test('')).toBe(false);
    expect(range?.test('1.2')).toBe(false);
  });

  test('semver - a range admits no pre-release unless it names one of the same version', () => {
    const releases = parseRange('^2.0.0');
    expect(releases?.test('2.0.0-rc.1')).toBe(false);
    expect(releases?.test('2.1.0-beta')).toBe(false);
    expect(releases?.test('2.0.0')).toBe(true);
    expect(parseRange('*')?.test('2.0.0-rc.1')).toBe(false);
    expect(parseRange('>=1.0.0')?.test('2.0.0-rc.1')).toBe(false);
    // Naming a pre-release admits the later ones of that MAJOR.MINOR.PATCH, and releases.
    const rc = parseRange('^2.0.0-rc.1');
    expect(rc?.test('2.0.0-rc.1')).toBe(true);
    expect(rc?.test('2.0.0-rc.2')).toBe(true);
    expect(rc?.test('2.0.0-beta')).toBe(false);
    expect(rc?.test('2.1.0-rc.1')).toBe(false);
    expect(rc?.test('2.3.0')).toBe(true);
    expect(matching('2.0.0-rc.1', ['2.0.0-rc.1', '2.0.0'])).toEqual(['2.0.0-rc.1']);
  });

  test('semver - a hyphen range includes both ends', () => {
    const between = (low: string, high: string) =>
      VERSIONS.filter((v) => compareVersions(v, low) >= 0 && compareVersions(v, high) <= 0);
    expect(matching('1.2.3 - 2.0.0', VERSIONS)).toEqual(between('1.2.3', '2.0.0'));
    expect(matching('1.2.3 - 2.0.0', VERSIONS)).toHaveLength(5);
    // A partial upper end admits everything it covers.
    expect(matching('1.2.3 - 2', VERSIONS)).toEqual(between('1.2.3', '2.99.99'));
  });

  test('semver - an operator may be followed by spaces', () => {
    expect(matching('>= 1.2.0', VERSIONS)).toEqual(matching('>=1.2.0', VERSIONS));
    expect(matching('>= 1.2.0 < 2.0.0', VERSIONS)).toEqual(matching('>=1.2.0 <2.0.0', VERSIONS));
    expect(matching('^ 1.2.3', VERSIONS)).toEqual(matching('^1.2.3', VERSIONS));
  });

  test('semver - a range tests build metadata as the version it is attached to', () => {
    expect(parseRange('^1.2.0')?.test('1.3.0+build.7')).toBe(true);
  });

  test('semver - isValidRange says which ranges compile', () => {
    for (const range of ['', '*', '^1.2.3', '1.2.3 - 2.0.0', '>= 1.2.0', '1.x || 3.x']) {
      expect(isValidRange(range), range).toBe(true);
    }
    for (const range of ['banana', '1.2.3.4', '=>1.2.3', '>=1.2.0 junk']) {
      expect(isValidRange(range), range).toBe(false);
    }
  });

  test('semver - parseRange keeps its source', () => {
    expect(parseRange('>=1.2.0 <2.0.0')?.source).toBe('>=1.2.0 <2.0.0');
  });

  test('semver - malformed ranges return undefined', () => {
    for (const source of [
      'abc',
      '1.2.3.4',
      '^',
      '~',
      '>=',
      '<',
      '1..2',
      '^a.b.c',
      '>=1.2.0 junk',
      '1.x || nope',
      '!1.2.3',
      '=>1.2.3',
      '1.2.3 -2.0.0',
      'banana',
      'latest',
    ]) {
      expect(parseRange(source), source).toBeUndefined();
    }
  });

  test('semver - comparators with a partial version compare on the parts given, as npm does', () => {
    const above = parseRange('>1.2')!;
    expect(above.test('1.2.9')).toBe(false);
    expect(above.test('1.3.0')).toBe(true);
    const atMost = parseRange('<=1.2')!;
    expect(atMost.test('1.2.9')).toBe(true);
    expect(atMost.test('1.3.0')).toBe(false);
    expect(parseRange('<1.2')!.test('1.1.9')).toBe(true);
    expect(parseRange('<1.2')!.test('1.2.0')).toBe(false);
    expect(parseRange('>=1.2')!.test('1.2.0')).toBe(true);
  });
});
