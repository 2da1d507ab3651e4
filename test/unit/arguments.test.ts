import { describe, expect, test } from 'vitest';
import { checkArguments, type StandardSchemaV1 } from '../../src/proxies/arguments.js';
import { expectBadRequest } from './expect-bad-request.js';

/** A Standard Schema checking `typeof`, optionally at a nested field, optionally async. */
function schema(type: string, options: { at?: string[]; async?: boolean } = {}): StandardSchemaV1 {
  const validate = (value: unknown) => {
    const inner = (options.at ?? []).reduce<unknown>(
      (v, k) => (v as Record<string, unknown> | undefined)?.[k],
      value,
    );
    if (typeof inner === type) return { value };
    return { issues: [{ message: `expected ${type}`, path: options.at?.map((key) => ({ key })) }] };
  };
  return {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: options.async ? async (v: unknown) => validate(v) : validate,
    },
  };
}

const plain = (declared: number, variadic = false) => ({ declared, variadic });

describe('arguments', () => {
  test('arguments - without schemas, more arguments than the handler declares is BAD_REQUEST', () => {
    expect(checkArguments('add', [1, 2], plain(2))).toEqual([1, 2]);
    expect(checkArguments('add', [1], plain(2))).toEqual([1]);
    expect(expectBadRequest(() => checkArguments('add', [1, 2, 3, 4], plain(2)))).toBe(
      'add takes 2 arguments, got 4',
    );
    expect(expectBadRequest(() => checkArguments('one', [1, 2], plain(1)))).toBe(
      'one takes 1 argument, got 2',
    );
  });

  test('arguments - variadic methods and handlers declaring nothing are not counted', () => {
    expect(checkArguments('log', [1, 2, 3], plain(1, true))).toEqual([1, 2, 3]);
    expect(checkArguments('wrapped', [1, 2, 3], plain(0))).toEqual([1, 2, 3]);
  });

  test('arguments - schemas check each argument, naming the argument and the field', () => {
    const rules = {
      declared: 0,
      variadic: false,
      schemas: [schema('number'), schema('string', { at: ['user', 'name'] })],
    };
    expect(checkArguments('greet', [1, { user: { name: 'x' } }], rules)).toEqual([
      1,
      { user: { name: 'x' } },
    ]);
    expect(expectBadRequest(() => checkArguments('greet', ['1', {}], rules))).toBe(
      'greet: argument 1: expected number',
    );
    expect(expectBadRequest(() => checkArguments('greet', [1, { user: {} }], rules))).toBe(
      "greet: argument 2 field 'user.name': expected string",
    );
    expect(expectBadRequest(() => checkArguments('greet', [1, {}, 3], rules))).toBe(
      'greet takes 2 arguments, got 3',
    );
    // A missing argument is checked too (the schema sees undefined).
    expect(expectBadRequest(() => checkArguments('greet', [], rules))).toBe(
      'greet: argument 1: expected number',
    );
  });

  test('arguments - asynchronous schemas give a promise, rejected with BAD_REQUEST', async () => {
    const rules = { declared: 0, variadic: false, schemas: [schema('number', { async: true })] };
    await expect(checkArguments('f', [5], rules)).resolves.toEqual([5]);
    await expect(checkArguments('f', ['x'], rules)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      completed: 'no',
      message: 'f: argument 1: expected number',
      details: { argument: 0, issues: ['argument 1: expected number'] },
    });
  });

  test('arguments - what a schema outputs is what the handler gets', () => {
    const trim: StandardSchemaV1 = {
      '~standard': { version: 1, vendor: 't', validate: (v) => ({ value: String(v).trim() }) },
    };
    expect(
      checkArguments('f', ['  a  '], { declared: 1, variadic: false, schemas: [trim] }),
    ).toEqual(['a']);
  });
});
