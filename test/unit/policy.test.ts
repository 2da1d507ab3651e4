import { describe, expect, test } from 'vitest';
import { Bridge, type BridgeOptions } from '../../src/bridge/bridge.js';
import { checkGlobs, globFilter, globToRegExp, isValidGlob } from '../../src/bridge/policy.js';

describe('isValidGlob', () => {
  test('policy - a glob holds the characters of service names and the two wildcards', () => {
    for (const glob of ['calculator', 'calc*', '*', '?', 'svc-v?_*', 'A1', '*-svc', '**']) {
      expect(isValidGlob(glob), glob).toBe(true);
    }
  });

  test('policy - a glob with any other character, or none, is refused', () => {
    for (const glob of [
      '',
      'calc[',
      '[ab]',
      'a.b',
      'a b',
      'a,b',
      'a/b',
      'a|b',
      '{a,b}',
      'é',
      'a\\*',
    ]) {
      expect(isValidGlob(glob), glob).toBe(false);
    }
  });
});

describe('checkGlobs', () => {
  test('policy - checkGlobs names the field and the first bad glob', () => {
    expect(() => checkGlobs(['calc*', 'orders'], '--export')).not.toThrow();
    expect(() => checkGlobs([], '--export')).not.toThrow();
    expect(() => checkGlobs(['calc*', 'calc[', 'a.b'], '--export')).toThrow(
      new TypeError(
        "--export: 'calc[' is not a glob of service names: letters, digits, '_' and '-' (as in service names), '*' for any run of them and '?' for one",
      ),
    );
  });
});

describe('Bridge options', () => {
  test('policy - Bridge.start refuses a bad glob before connecting', async () => {
    const sides = { local: { nats: 'nats://127.0.0.1:1' }, remote: { nats: 'nats://127.0.0.1:1' } };
    await expect(Bridge.start({ ...sides, import: ['ok', 'calc['] })).rejects.toThrow(
      /^bridge option 'import': 'calc\[' is not a glob of service names/,
    );
  });

  test('policy - Bridge.start names the side of a bad connection option before connecting', async () => {
    await expect(
      Bridge.start({ local: { nats: 'nats://127.0.0.1:1' }, remote: { nats: 'htp:/foo bar' } }),
    ).rejects.toThrow(/^bridge option 'remote\.nats': 'htp:\/foo bar' is not a NATS URL/);
  });
});

describe('Bridge options, each refused before connecting', () => {
  // Were a check missing, start would fail at once on the closed port instead, with another message.
  const side = { nats: 'nats://127.0.0.1:1', waitForNats: false };
  const sides = { local: side, remote: side };
  const refusal = (options: unknown) => Bridge.start(options as BridgeOptions);

  test('policy - Bridge.start needs both sides', async () => {
    const message = "bridge options 'local' and 'remote' are both required";
    await expect(refusal({ local: side })).rejects.toThrow(new TypeError(message));
    await expect(refusal({ remote: side })).rejects.toThrow(new TypeError(message));
  });

  test('policy - Bridge.start names the local side of a bad connection option', async () => {
    await expect(refusal({ ...sides, local: { nats: 'htp:/foo bar' } })).rejects.toThrow(
      /^bridge option 'local\.nats': 'htp:\/foo bar' is not a NATS URL/,
    );
  });

  test('policy - Bridge.start refuses a count or period below 1, naming it', async () => {
    for (const field of ['maxHops', 'heartbeatMs', 'refreshMs']) {
      await expect(refusal({ ...sides, [field]: 0 })).rejects.toThrow(
        new TypeError(`bridge option '${field}' must be a positive number (got 0)`),
      );
    }
    await expect(refusal({ ...sides, refreshMs: Number.NaN })).rejects.toThrow(
      new TypeError("bridge option 'refreshMs' must be a positive number (got NaN)"),
    );
    await expect(refusal({ ...sides, maxHops: 65 })).rejects.toThrow(
      new TypeError(
        "bridge option 'maxHops' must be at most 64, the longest path a route carries (got 65)",
      ),
    );
  });

  test('policy - Bridge.start takes 1 for a count or period: it goes on to connect', async () => {
    await expect(
      refusal({ ...sides, maxHops: 1, heartbeatMs: 1, refreshMs: 1 }),
    ).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: 'cannot connect to NATS at nats://127.0.0.1:1: connection refused',
    });
  });

  test('policy - Bridge.start refuses an export or import that is not a list of strings', async () => {
    const cases = [
      { export: 'calc*' },
      { import: ['calc*', 7] },
      { import: [7, 'calc*'] },
      { export: { 0: 'calc*', length: 1 } },
    ];
    const refused = await Promise.all(
      cases.map((c) => refusal({ ...sides, ...c }).then(String, (err: Error) => err.message)),
    );
    expect(refused).toEqual([
      "bridge option 'export' must be a list of glob patterns",
      "bridge option 'import' must be a list of glob patterns",
      "bridge option 'import' must be a list of glob patterns",
      "bridge option 'export' must be a list of glob patterns",
    ]);
  });

  test('policy - Bridge.start refuses in-flight limits that are unknown or not positive integers', async () => {
    await expect(refusal({ ...sides, inFlight: { maxCalls: 0 } })).rejects.toThrow(
      new TypeError("bridge option 'inFlight.maxCalls' must be a positive integer (got 0)"),
    );
    await expect(refusal({ ...sides, inFlight: { calls: 5 } as never })).rejects.toThrow(
      new TypeError("bridge option 'inFlight.calls' is not an in-flight limit"),
    );
  });
});

describe('globToRegExp', () => {
  test('policy - a literal glob matches only that name', () => {
    const re = globToRegExp('calculator');
    expect(re.test('calculator')).toBe(true);
    expect(re.test('calculators')).toBe(false);
    expect(re.test('my-calculator')).toBe(false);
    expect(re.test('Calculator')).toBe(false);
  });

  test('policy - * matches any run of characters, including none', () => {
    const re = globToRegExp('calc*');
    expect(re.test('calc')).toBe(true);
    expect(re.test('calculator')).toBe(true);
    expect(re.test('calc-v2_x')).toBe(true);
    expect(re.test('cal')).toBe(false);
    expect(re.test('xcalc')).toBe(false);
  });

  test('policy - * in the middle or at the start of a glob', () => {
    expect(globToRegExp('*-svc').test('billing-svc')).toBe(true);
    expect(globToRegExp('*-svc').test('billing-svc2')).toBe(false);
    expect(globToRegExp('a*z').test('az')).toBe(true);
    expect(globToRegExp('a*z').test('abcz')).toBe(true);
    expect(globToRegExp('a*z').test('abcza')).toBe(false);
  });

  test('policy - a lone * matches everything', () => {
    const re = globToRegExp('*');
    expect(re.test('')).toBe(true);
    expect(re.test('anything_at-all')).toBe(true);
  });

  test('policy - ? matches exactly one character', () => {
    const re = globToRegExp('svc?');
    expect(re.test('svc1')).toBe(true);
    expect(re.test('svcX')).toBe(true);
    expect(re.test('svc')).toBe(false);
    expect(re.test('svc12')).toBe(false);
    expect(globToRegExp('a??b').test('a12b')).toBe(true);
    expect(globToRegExp('a??b').test('a1b')).toBe(false);
  });

  test('policy - a literal dot does not match any character', () => {
    const re = globToRegExp('a.b');
    expect(re.test('a.b')).toBe(true);
    expect(re.test('aXb')).toBe(false);
    expect(re.test('ab')).toBe(false);
  });

  test('policy - regex metacharacters are escaped', () => {
    const literals = ['a+b', 'a^b', 'a$b', 'a{2}', 'a(b)', 'a|b', '[ab]', 'a\\b', 'a]b', 'a}b'];
    for (const glob of literals) {
      expect(globToRegExp(glob).test(glob), glob).toBe(true);
    }
    expect(globToRegExp('a+b').test('aab')).toBe(false);
    expect(globToRegExp('a{2}').test('aa')).toBe(false);
    expect(globToRegExp('a(b)').test('ab')).toBe(false);
    expect(globToRegExp('a|b').test('a')).toBe(false);
    expect(globToRegExp('a|b').test('b')).toBe(false);
    expect(globToRegExp('[ab]').test('a')).toBe(false);
    expect(globToRegExp('a\\b').test('a\\c')).toBe(false);
  });

  test('policy - metacharacters mixed with wildcards', () => {
    const re = globToRegExp('svc.*');
    expect(re.test('svc.')).toBe(true);
    expect(re.test('svc.v1')).toBe(true);
    expect(re.test('svcXv1')).toBe(false);
    expect(globToRegExp('v?.0').test('v1.0')).toBe(true);
    expect(globToRegExp('v?.0').test('v1x0')).toBe(false);
  });

  test('policy - the expression is anchored at both ends', () => {
    const re = globToRegExp('calc');
    expect(re.source.startsWith('^')).toBe(true);
    expect(re.source.endsWith('$')).toBe(true);
    expect(re.test('xcalc')).toBe(false);
    expect(re.test('calcx')).toBe(false);
    expect(globToRegExp('a|b*').test('b')).toBe(false);
  });

  test('policy - an empty glob matches only the empty name', () => {
    const re = globToRegExp('');
    expect(re.test('')).toBe(true);
    expect(re.test('a')).toBe(false);
  });
});

describe('globFilter', () => {
  test('policy - an undefined pattern list lets everything through', () => {
    const allows = globFilter(undefined);
    expect(allows('calculator')).toBe(true);
    expect(allows('')).toBe(true);
  });

  test('policy - an empty pattern list lets everything through', () => {
    const allows = globFilter([]);
    expect(allows('calculator')).toBe(true);
    expect(allows('anything')).toBe(true);
  });

  test('policy - one pattern lets through only the names it matches', () => {
    const allows = globFilter(['calc*']);
    expect(allows('calculator')).toBe(true);
    expect(allows('echo')).toBe(false);
  });

  test('policy - several patterns let through a name matching any of them', () => {
    const allows = globFilter(['calculator', 'echo?', 'billing-*']);
    expect(allows('calculator')).toBe(true);
    expect(allows('echo1')).toBe(true);
    expect(allows('billing-eu')).toBe(true);
    expect(allows('echo')).toBe(false);
    expect(allows('secret')).toBe(false);
    expect(allows('xcalculator')).toBe(false);
  });

  test('policy - patterns in a filter are anchored and escaped too', () => {
    const allows = globFilter(['a.b']);
    expect(allows('a.b')).toBe(true);
    expect(allows('aXb')).toBe(false);
    expect(allows('xa.b')).toBe(false);
    expect(allows('a.bx')).toBe(false);
  });

  test('policy - a filter gives the same answer when called repeatedly', () => {
    // Guards against a stateful (global/sticky) regular expression.
    const allows = globFilter(['calc*']);
    for (let i = 0; i < 3; i++) expect(allows('calculator')).toBe(true);
  });

  test('policy - a * pattern lets everything through', () => {
    const allows = globFilter(['*']);
    expect(allows('calculator')).toBe(true);
    expect(allows('x')).toBe(true);
  });
});
