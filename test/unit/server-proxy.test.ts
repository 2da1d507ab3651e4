import { describe, expect, test } from 'vitest';
import { methodsOf } from '../../src/proxies/server-proxy.js';

describe('server proxy', () => {
  test('server proxy - methodsOf collects plain object methods', () => {
    const handlers = methodsOf({
      add: (a: number, b: number) => a + b,
      negate(a: number) {
        return -a;
      },
      async later() {
        return 'done';
      },
    });
    expect([...handlers.keys()].sort()).toEqual(['add', 'later', 'negate']);
    expect(handlers.get('add')?.(1, 2)).toBe(3);
    expect(handlers.get('negate')?.(4)).toBe(-4);
  });

  test('server proxy - methodsOf ignores non-function properties', () => {
    const handlers = methodsOf({
      count: 3,
      label: 'x',
      nested: { f: () => 1 },
      list: [() => 1],
      nothing: null,
      missing: undefined,
      run: () => 'ran',
    });
    expect([...handlers.keys()]).toEqual(['run']);
  });

  test('server proxy - methodsOf skips constructor and _private names', () => {
    const handlers = methodsOf({
      _secret: () => 's',
      __proto_like: () => 'p',
      constructor: () => 'c',
      visible: () => 'v',
    });
    expect([...handlers.keys()]).toEqual(['visible']);
  });

  test('server proxy - methodsOf collects class instance methods from the prototype', () => {
    class Calculator {
      add(a: number, b: number): number {
        return a + b;
      }
      divide(a: number, b: number): number {
        return a / b;
      }
    }
    const handlers = methodsOf(new Calculator());
    expect([...handlers.keys()].sort()).toEqual(['add', 'divide']);
    expect(handlers.get('divide')?.(6, 3)).toBe(2);
  });

  test('server proxy - methodsOf includes inherited methods, the subclass winning', () => {
    class Base {
      greet(): string {
        return 'base';
      }
      shared(): string {
        return 'base shared';
      }
      _hidden(): string {
        return 'h';
      }
    }
    class Derived extends Base {
      override shared(): string {
        return `derived ${super.shared()}`;
      }
      own(): string {
        return 'own';
      }
    }
    const handlers = methodsOf(new Derived());
    expect([...handlers.keys()].sort()).toEqual(['greet', 'own', 'shared']);
    expect(handlers.get('shared')?.()).toBe('derived base shared');
    expect(handlers.get('greet')?.()).toBe('base');
  });

  test('server proxy - methodsOf does not expose Object.prototype methods', () => {
    const handlers = methodsOf({ ping: () => 'pong' });
    for (const name of ['toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf']) {
      expect(handlers.has(name)).toBe(false);
    }
    expect(methodsOf({}).size).toBe(0);
  });

  test('server proxy - methodsOf takes own function fields of a class instance', () => {
    class WithField {
      readonly arrow = (): string => 'arrow';
      readonly value = 5;
    }
    const handlers = methodsOf(new WithField());
    expect([...handlers.keys()]).toEqual(['arrow']);
  });

  test('server proxy - methodsOf works on a null-prototype object', () => {
    const target = Object.create(null) as Record<string, unknown>;
    target.hello = () => 'hi';
    expect(methodsOf(target).get('hello')?.()).toBe('hi');
  });

  test('server proxy - methodsOf binds methods to their object', () => {
    class Counter {
      count = 0;
      increment(by: number): number {
        this.count += by;
        return this.count;
      }
    }
    const counter = new Counter();
    const increment = methodsOf(counter).get('increment');
    expect(increment?.(2)).toBe(2);
    expect(increment?.(3)).toBe(5);
    expect(counter.count).toBe(5);

    const plain = {
      factor: 10,
      scale(x: number): number {
        return x * this.factor;
      },
    };
    const scale = methodsOf(plain).get('scale');
    expect(scale?.call({ factor: 1 }, 2)).toBe(20);
  });

  test('server proxy - methodsOf throws on invalid method names', () => {
    for (const name of ['has space', 'dot.ted', '9lives', 'wild*', 'é']) {
      expect(() => methodsOf({ [name]: () => 1 }), name).toThrow(TypeError);
    }
    expect(() => methodsOf({ 'bad name': () => 1 })).toThrow(/method name 'bad name' is not valid/);
  });

  test('server proxy - methodsOf ignores invalid names on non-functions and private names', () => {
    expect([...methodsOf({ 'bad name': 1, _ok: () => 1, ok: () => 1 }).keys()]).toEqual(['ok']);
  });

  test('server proxy - methodsOf ignores symbol-keyed functions', () => {
    const handlers = methodsOf({ [Symbol('s')]: () => 1, real: () => 2 });
    expect([...handlers.keys()]).toEqual(['real']);
  });
});
