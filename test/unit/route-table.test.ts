import { describe, expect, test } from 'vitest';
import { type RouteAdvert, type RouteRules, RouteTable } from '../../src/bridge/route-table.js';
import type { InstanceView } from '../../src/protocol/envelopes.js';

/** An instance as the far site `b` sees it; `path` empty means attached to `b` itself. */
function inst(
  id: string,
  opts: {
    service?: string;
    version?: string;
    methods?: string[];
    site?: string;
    path?: string[];
  } = {},
): InstanceView {
  const path = opts.path ?? [];
  return {
    id,
    service: opts.service ?? 'calculator',
    version: opts.version ?? '1.0.0',
    methods: opts.methods ?? ['add'],
    metadata: {},
    site: opts.site ?? (path.length > 0 ? (path[path.length - 1] as string) : 'b'),
    path,
    hops: path.length,
  };
}

/** Table advertising into `a` what is seen at `b` (link a-b). */
function table(rules: Partial<RouteRules> = {}): RouteTable {
  return new RouteTable({ into: 'a', from: 'b', maxHops: 8, allows: () => true, ...rules });
}

function paths(routes: readonly RouteAdvert[]): string[] {
  return routes.map((r) => r.path.join('>')).sort();
}

function keys(routes: readonly RouteAdvert[]): string[] {
  return routes.map((r) => r.key).sort();
}

describe('route table', () => {
  test('route table - a local instance at the far site becomes a route with path [far], one hop', () => {
    const t = table();
    const { added, removed } = t.update('calculator', [inst('i1', { methods: ['add', 'sub'] })]);
    expect(removed).toEqual([]);
    expect(added).toHaveLength(1);
    const route = added[0]!;
    expect(route).toMatchObject({
      service: 'calculator',
      version: '1.0.0',
      methods: ['add', 'sub'],
      site: 'b',
      path: ['b'],
    });
    expect(route.path).toHaveLength(1);
    expect(t.routes()).toEqual([route]);
  });

  test('route table - a route seen at the far site gets the far site put in front of its path', () => {
    const t = table();
    const { added } = t.update('calculator', [inst('i1', { path: ['x', 'y'] })]);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ site: 'y', path: ['b', 'x', 'y'] });
  });

  test('route table - the key identifies service, version, hosting site and path', () => {
    const t = table();
    const { added } = t.update('calculator', [
      inst('i1', { path: ['x', 'y'] }),
      inst('i2', { path: ['z', 'v'] }),
      inst('i3', { version: '2.0.0', path: ['x', 'y'] }),
      inst('i4', { service: 'calculator', path: ['x', 'w'] }),
    ]);
    expect(new Set(added.map((r) => r.key)).size).toBe(4);
  });

  describe('loops', () => {
    test('route table - refuses a route that would loop through the advertising site', () => {
      // Triangle A-B-C-A: B sees C's service both directly and through A (path [a, c]).
      const t = table();
      const { added } = t.update('calculator', [
        inst('via-a', { site: 'c', path: ['a', 'c'] }),
        inst('direct', { site: 'c', path: ['c'] }),
      ]);
      expect(paths(added)).toEqual(['b>c']);
    });

    test('route table - refuses a route whose only path runs through the advertising site', () => {
      const t = table();
      const { added } = t.update('calculator', [inst('via-a', { site: 'c', path: ['a', 'c'] })]);
      expect(added).toEqual([]);
      expect(t.routes()).toEqual([]);
    });

    test('route table - refuses a route whose hosting site is the advertising site', () => {
      // A's own service, seen at B through the a-b bridge, must not come back to A.
      const t = table();
      const { added } = t.update('calculator', [inst('home', { site: 'a', path: ['a'] })]);
      expect(added).toEqual([]);
      expect(t.routes()).toEqual([]);
    });

    test('route table - refuses a route hosted at the advertising site even when its path does not say so', () => {
      // A route registered by a faulty bridge: hosted at `a`, path without `a`.
      const t = table();
      const { added } = t.update('calculator', [inst('odd', { site: 'a', path: ['c'] })]);
      expect(added).toEqual([]);
      expect(t.routes()).toEqual([]);
    });

    test('route table - refuses a route through the advertising site in the middle of the path', () => {
      const t = table();
      const { added } = t.update('calculator', [inst('i1', { site: 'd', path: ['c', 'a', 'd'] })]);
      expect(added).toEqual([]);
    });

    test('route table - refuses the loop in every half of the triangle A-B-C-A', () => {
      // Each table advertises into `into` what is seen at `from`.
      const cases: Array<{ into: string; from: string; seen: InstanceView; ok: InstanceView }> = [
        {
          into: 'a',
          from: 'b',
          seen: inst('l', { site: 'c', path: ['a', 'c'] }),
          ok: inst('o', { site: 'c', path: ['c'] }),
        },
        {
          into: 'b',
          from: 'c',
          seen: inst('l', { site: 'a', path: ['b', 'a'] }),
          ok: inst('o', { site: 'a', path: ['a'] }),
        },
        {
          into: 'c',
          from: 'a',
          seen: inst('l', { site: 'b', path: ['c', 'b'] }),
          ok: inst('o', { site: 'b', path: ['b'] }),
        },
      ];
      for (const { into, from, seen, ok } of cases) {
        const t = table({ into, from });
        expect(t.update('calculator', [seen]).added).toEqual([]);
        expect(paths(t.update('calculator', [seen, ok]).added)).toEqual([`${from}>${ok.site}`]);
      }
    });
  });

  describe('hop limit', () => {
    test('route table - refuses a path longer than maxHops', () => {
      const t = table({ maxHops: 2 });
      const { added } = t.update('calculator', [inst('i1', { path: ['x', 'y'] })]);
      expect(added).toEqual([]);
      expect(t.routes()).toEqual([]);
    });

    test('route table - keeps a path exactly maxHops long', () => {
      const t = table({ maxHops: 3 });
      const { added } = t.update('calculator', [inst('i1', { path: ['x', 'y'] })]);
      expect(paths(added)).toEqual(['b>x>y']);
    });

    test('route table - maxHops 1 lets only the far site local instances through', () => {
      const t = table({ maxHops: 1 });
      const { added } = t.update('calculator', [inst('local'), inst('remote', { path: ['x'] })]);
      expect(paths(added)).toEqual(['b']);
    });

    test('route table - a longer path beyond the limit does not hide a shorter one', () => {
      const t = table({ maxHops: 2 });
      const { added } = t.update('calculator', [
        inst('long', { path: ['x', 'y', 'z'] }),
        inst('short', { site: 'z', path: ['z'] }),
      ]);
      expect(paths(added)).toEqual(['b>z']);
    });
  });

  describe('shortest paths', () => {
    test('route table - keeps only the shortest path to one version at one hosting site', () => {
      const t = table();
      const { added } = t.update('calculator', [
        inst('long', { site: 'd', path: ['x', 'y', 'd'] }),
        inst('short', { site: 'd', path: ['x', 'd'] }),
        inst('longer', { site: 'd', path: ['w', 'x', 'y', 'd'] }),
      ]);
      expect(paths(added)).toEqual(['b>x>d']);
    });

    test('route table - of equal shortest paths passes on one, the first in order; the next when it goes', () => {
      const t = table();
      const { added } = t.update('calculator', [
        inst('via-y', { site: 'd', path: ['y', 'd'] }),
        inst('via-x', { site: 'd', path: ['x', 'd'] }),
        inst('long', { site: 'd', path: ['x', 'y', 'd'] }),
      ]);
      expect(paths(added)).toEqual(['b>x>d']);
      const next = t.update('calculator', [inst('via-y', { site: 'd', path: ['y', 'd'] })]);
      expect(paths(next.removed)).toEqual(['b>x>d']);
      expect(paths(next.added)).toEqual(['b>y>d']);
    });

    test('route table - of equal shortest paths new to the table, the first in order wins whichever is seen first', () => {
      const t = table();
      const { added } = t.update('calculator', [
        inst('via-x', { site: 'd', path: ['x', 'd'] }),
        inst('via-y', { site: 'd', path: ['y', 'd'] }),
      ]);
      expect(paths(added)).toEqual(['b>x>d']);
    });

    test('route table - an equal path that comes back does not displace the one advertised (no churn downstream)', () => {
      const t = table();
      t.update('calculator', [inst('via-y', { site: 'd', path: ['y', 'd'] })]);
      // via-x sorts first, but via-y is advertised already and is as short.
      const back = t.update('calculator', [
        inst('via-x', { site: 'd', path: ['x', 'd'] }),
        inst('via-y', { site: 'd', path: ['y', 'd'] }),
      ]);
      expect(back).toEqual({ added: [], removed: [] });
      expect(paths(t.routes())).toEqual(['b>y>d']);
      // Whichever order the far site lists them in.
      const reordered = t.update('calculator', [
        inst('via-y', { site: 'd', path: ['y', 'd'] }),
        inst('via-x', { site: 'd', path: ['x', 'd'] }),
      ]);
      expect(reordered).toEqual({ added: [], removed: [] });
      // A shorter one still wins over the one advertised.
      const shorter = t.update('calculator', [
        inst('via-y', { site: 'd', path: ['y', 'd'] }),
        inst('direct', { site: 'd', path: ['d'] }),
      ]);
      expect(paths(shorter.removed)).toEqual(['b>y>d']);
      expect(paths(shorter.added)).toEqual(['b>d']);
    });

    test('route table - an equal path kept as the one advertised also survives a full view', () => {
      const t = table();
      t.update('calculator', [inst('via-y', { site: 'd', path: ['y', 'd'] })]);
      const full = t.replaceAll([
        inst('via-x', { site: 'd', path: ['x', 'd'] }),
        inst('via-y', { site: 'd', path: ['y', 'd'] }),
      ]);
      expect(full).toEqual({ added: [], removed: [] });
    });

    test('route table - a route key names service, version, hosting site and the whole path', () => {
      const t = table();
      const { added } = t.update('calculator', [inst('i1', { site: 'd', path: ['x', 'd'] })]);
      expect(keys(added)).toEqual(['calculator|1.0.0|d|b,x,d']);
    });

    test('route table - shortest paths are chosen per hosting site', () => {
      const t = table();
      const { added } = t.update('calculator', [
        inst('near', { site: 'c', path: ['c'] }),
        inst('far', { site: 'd', path: ['x', 'y', 'd'] }),
      ]);
      expect(paths(added)).toEqual(['b>c', 'b>x>y>d']);
    });

    test('route table - shortest paths are chosen per version', () => {
      const t = table();
      const { added } = t.update('calculator', [
        inst('v1', { version: '1.0.0', site: 'd', path: ['d'] }),
        inst('v2', { version: '2.0.0', site: 'd', path: ['x', 'd'] }),
      ]);
      expect(added.map((r) => `${r.version}:${r.path.join('>')}`).sort()).toEqual([
        '1.0.0:b>d',
        '2.0.0:b>x>d',
      ]);
    });

    test('route table - a refused loop does not count as the shortest path', () => {
      // The path through `a` is shorter, but refused: the longer clean path must win.
      const t = table();
      const { added } = t.update('calculator', [
        inst('loop', { site: 'd', path: ['a', 'd'] }),
        inst('clean', { site: 'd', path: ['x', 'y', 'd'] }),
      ]);
      expect(paths(added)).toEqual(['b>x>y>d']);
    });
  });

  describe('merging', () => {
    test('route table - instances with the same service, version, site and path merge into one route', () => {
      const t = table();
      const { added } = t.update('calculator', [
        inst('i1', { methods: ['sub', 'add'] }),
        inst('i2', { methods: ['mul', 'add'] }),
        inst('i3', { methods: ['div'] }),
      ]);
      expect(added).toHaveLength(1);
      expect(added[0]!.methods).toEqual(['add', 'div', 'mul', 'sub']);
      expect(t.routes()).toHaveLength(1);
    });

    test('route table - methods of a single instance are sorted', () => {
      const t = table();
      const { added } = t.update('calculator', [inst('i1', { methods: ['sub', 'add', 'mul'] })]);
      expect(added[0]!.methods).toEqual(['add', 'mul', 'sub']);
    });

    test('route table - does not alter the methods array of the instance it was given', () => {
      const t = table();
      const methods = ['sub', 'add'];
      const first = inst('i1', { methods });
      t.update('calculator', [first, inst('i2', { methods: ['mul'] })]);
      expect(methods).toEqual(['sub', 'add']);
      expect(first.methods).toEqual(['sub', 'add']);
    });

    test('route table - versions are kept apart', () => {
      const t = table();
      const { added } = t.update('calculator', [
        inst('i1', { version: '1.0.0', methods: ['add'] }),
        inst('i2', { version: '2.0.0', methods: ['add', 'pow'] }),
      ]);
      expect(added).toHaveLength(2);
      const byVersion = Object.fromEntries(added.map((r) => [r.version, r.methods]));
      expect(byVersion).toEqual({ '1.0.0': ['add'], '2.0.0': ['add', 'pow'] });
    });

    test('route table - instances at different hosting sites are kept apart', () => {
      const t = table();
      const { added } = t.update('calculator', [
        inst('i1', { methods: ['add'] }),
        inst('i2', { site: 'c', path: ['c'], methods: ['sub'] }),
      ]);
      expect(added).toHaveLength(2);
      expect(added.map((r) => `${r.site}:${r.methods.join(',')}`).sort()).toEqual([
        'b:add',
        'c:sub',
      ]);
    });
  });

  describe('policy', () => {
    test('route table - allows filters by service', () => {
      const seen: string[] = [];
      const t = table({
        allows: (s) => {
          seen.push(s);
          return s === 'calculator';
        },
      });
      expect(t.update('calculator', [inst('i1')]).added).toHaveLength(1);
      expect(t.update('secret', [inst('i2', { service: 'secret' })]).added).toEqual([]);
      expect(seen).toContain('secret');
      expect(t.routes().map((r) => r.service)).toEqual(['calculator']);
    });

    test('route table - replaceAll applies the policy to every service', () => {
      const t = table({ allows: (s) => s !== 'secret' });
      const { added } = t.replaceAll([
        inst('i1'),
        inst('i2', { service: 'secret' }),
        inst('i3', { service: 'echo' }),
      ]);
      expect(added.map((r) => r.service).sort()).toEqual(['calculator', 'echo']);
    });
  });

  describe('update', () => {
    test('route table - update with no change returns nothing', () => {
      const t = table();
      t.update('calculator', [inst('i1', { methods: ['add', 'sub'] })]);
      const changes = t.update('calculator', [inst('i1', { methods: ['sub', 'add'] })]);
      expect(changes).toEqual({ added: [], removed: [] });
      expect(t.routes()).toHaveLength(1);
    });

    test('route table - another instance on the same route is no change', () => {
      const t = table();
      t.update('calculator', [inst('i1')]);
      expect(t.update('calculator', [inst('i1'), inst('i2')])).toEqual({ added: [], removed: [] });
    });

    test('route table - a change of methods removes the old route and adds the new one', () => {
      const t = table();
      const first = t.update('calculator', [inst('i1', { methods: ['add'] })]).added[0]!;
      const { added, removed } = t.update('calculator', [inst('i1', { methods: ['add', 'sub'] })]);
      expect(removed).toEqual([first]);
      expect(removed[0]!.methods).toEqual(['add']);
      expect(added).toHaveLength(1);
      expect(added[0]!.key).toBe(first.key);
      expect(added[0]!.methods).toEqual(['add', 'sub']);
      expect(t.routes()).toEqual(added);
    });

    test('route table - a service gone from the far site is removed', () => {
      const t = table();
      const { added } = t.update('calculator', [inst('i1'), inst('i2', { version: '2.0.0' })]);
      const changes = t.update('calculator', []);
      expect(changes.added).toEqual([]);
      expect(keys(changes.removed)).toEqual(keys(added));
      expect(t.routes()).toEqual([]);
    });

    test('route table - a new path is added and an old one removed', () => {
      const t = table();
      const old = t.update('calculator', [inst('i1', { site: 'd', path: ['x', 'd'] })]).added;
      const { added, removed } = t.update('calculator', [inst('i1', { site: 'd', path: ['d'] })]);
      expect(removed).toEqual(old);
      expect(paths(added)).toEqual(['b>d']);
      expect(paths(t.routes())).toEqual(['b>d']);
    });

    test('route table - a shorter path appearing withdraws the longer one', () => {
      const t = table();
      t.update('calculator', [inst('long', { site: 'd', path: ['x', 'y', 'd'] })]);
      const { added, removed } = t.update('calculator', [
        inst('long', { site: 'd', path: ['x', 'y', 'd'] }),
        inst('short', { site: 'd', path: ['z', 'd'] }),
      ]);
      expect(paths(removed)).toEqual(['b>x>y>d']);
      expect(paths(added)).toEqual(['b>z>d']);
    });

    test('route table - update of one service leaves the others alone', () => {
      const t = table();
      t.update('calculator', [inst('i1')]);
      const echo = t.update('echo', [inst('e1', { service: 'echo' })]).added;
      const changes = t.update('calculator', []);
      expect(changes.removed.map((r) => r.service)).toEqual(['calculator']);
      expect(t.routes()).toEqual(echo);
    });

    test('route table - removing what was never known returns nothing', () => {
      const t = table();
      expect(t.update('calculator', [])).toEqual({ added: [], removed: [] });
      expect(t.routes()).toEqual([]);
    });
  });

  describe('replaceAll', () => {
    test('route table - replaceAll adds every service of the full view', () => {
      const t = table();
      const { added, removed } = t.replaceAll([
        inst('i1'),
        inst('e1', { service: 'echo', methods: ['ping'] }),
        inst('e2', { service: 'echo', methods: ['pong'] }),
      ]);
      expect(removed).toEqual([]);
      expect(added.map((r) => `${r.service}:${r.methods.join(',')}`).sort()).toEqual([
        'calculator:add',
        'echo:ping,pong',
      ]);
      expect(keys(t.routes())).toEqual(keys(added));
    });

    test('route table - replaceAll withdraws services absent from the full view and adds new ones', () => {
      const t = table();
      t.replaceAll([inst('i1'), inst('e1', { service: 'echo' })]);
      const { added, removed } = t.replaceAll([
        inst('i1'),
        inst('g1', { service: 'greeter', methods: ['hello'] }),
      ]);
      expect(removed.map((r) => r.service)).toEqual(['echo']);
      expect(added.map((r) => r.service)).toEqual(['greeter']);
      expect(
        t
          .routes()
          .map((r) => r.service)
          .sort(),
      ).toEqual(['calculator', 'greeter']);
    });

    test('route table - replaceAll with the same view returns nothing', () => {
      const t = table();
      const view = [inst('i1'), inst('e1', { service: 'echo' })];
      t.replaceAll(view);
      expect(t.replaceAll(view)).toEqual({ added: [], removed: [] });
    });

    test('route table - replaceAll with an empty view withdraws everything', () => {
      const t = table();
      const { added } = t.replaceAll([inst('i1'), inst('e1', { service: 'echo' })]);
      const changes = t.replaceAll([]);
      expect(changes.added).toEqual([]);
      expect(keys(changes.removed)).toEqual(keys(added));
      expect(t.routes()).toEqual([]);
    });

    test('route table - replaceAll reports method changes of a service still present', () => {
      const t = table();
      t.replaceAll([inst('i1', { methods: ['add'] })]);
      const { added, removed } = t.replaceAll([inst('i1', { methods: ['add', 'sub'] })]);
      expect(removed.map((r) => r.methods)).toEqual([['add']]);
      expect(added.map((r) => r.methods)).toEqual([['add', 'sub']]);
    });
  });

  describe('clear and routes', () => {
    test('route table - clear returns every route and empties the table', () => {
      const t = table();
      const { added } = t.replaceAll([
        inst('i1'),
        inst('i2', { version: '2.0.0' }),
        inst('e1', { service: 'echo', site: 'c', path: ['c'] }),
      ]);
      expect(added).toHaveLength(3);
      const cleared = t.clear();
      expect(keys(cleared)).toEqual(keys(added));
      expect(t.routes()).toEqual([]);
      expect(t.clear()).toEqual([]);
    });

    test('route table - after clear the same view is added again', () => {
      const t = table();
      const view = [inst('i1')];
      const first = t.replaceAll(view).added;
      t.clear();
      const again = t.replaceAll(view);
      expect(again.removed).toEqual([]);
      expect(keys(again.added)).toEqual(keys(first));
    });

    test('route table - routes lists every route of every service', () => {
      const t = table();
      expect(t.routes()).toEqual([]);
      t.update('calculator', [inst('i1'), inst('i2', { site: 'c', path: ['c'] })]);
      t.update('echo', [inst('e1', { service: 'echo' })]);
      const all = t.routes();
      expect(all).toHaveLength(3);
      expect(all.map((r) => `${r.service}@${r.site}`).sort()).toEqual([
        'calculator@b',
        'calculator@c',
        'echo@b',
      ]);
    });
  });
});
