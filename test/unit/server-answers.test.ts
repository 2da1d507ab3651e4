/**
 * What a server sends when its answer is awkward to encode, over the
 * in-memory NATS: the caller gets an answer and the server goes on.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { ServiceDefinition } from '../../src/internal.js';
import { MemoryMesh } from '../support/memory-mesh.js';

const mesh = new MemoryMesh();
afterEach(() => mesh.close());

/** An array nested `depth` deep: more than msgpack's encoder takes (100). */
function nested(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

const awkward: ServiceDefinition = {
  name: 'awkward',
  methods: {
    deep: () => {
      throw Object.assign(new RangeError('too deep'), { code: 'DEEP', details: nested(200) });
    },
    cyclic: async () => {
      const details: Record<string, unknown> = {};
      details.self = details;
      throw Object.assign(new Error('cyclic'), { code: 'CYCLE', details });
    },
    fine: () => 'fine',
    bulky: () => {
      throw Object.assign(new Error('bulky'), { code: 'BULKY', details: 'x'.repeat(2 ** 21) });
    },
    shapeless: async () => {
      throw Object.create(null);
    },
    unreadable: async () => {
      throw Object.defineProperty({}, 'message', {
        get() {
          throw Object.create(null);
        },
      });
    },
  },
};

describe('server answers', () => {
  test('server answers - an error whose details msgpack cannot carry goes without them; the server goes on', async () => {
    const a = await mesh.site('a');
    await mesh.serve(a, awkward);
    const client = await mesh.client(a);
    for (const method of ['deep', 'cyclic']) {
      const err = await client.call('awkward', method).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(err, method).toMatchObject({ code: 'APPLICATION', completed: 'yes', site: 'a' });
      expect((err as { details?: unknown }).details, method).toBeUndefined();
    }
    expect(await client.call('awkward', 'deep').catch((e: { appCode?: string }) => e.appCode)).toBe(
      'DEEP',
    );
    expect(await client.call('awkward', 'fine')).toBe('fine');
  });

  test('server answers - an error too large with its details goes without them; a thrown value with no string form or unreadable fields is still answered', async () => {
    const a = await mesh.site('a');
    await mesh.serve(a, awkward);
    const client = await mesh.client(a);
    const failure = (method: string) =>
      client.call('awkward', method).then(
        () => undefined,
        (thrown: unknown) => thrown as { code: string; appCode?: string; details?: unknown },
      );
    expect(await failure('bulky')).toMatchObject({ code: 'APPLICATION', appCode: 'BULKY' });
    expect((await failure('bulky'))?.details).toBeUndefined();
    expect(await failure('shapeless')).toMatchObject({
      code: 'APPLICATION',
      message: '[object Object]',
      completed: 'yes',
    });
    expect(await failure('unreadable')).toMatchObject({
      code: 'INTERNAL',
      message: 'the handler failed with a value that cannot be read',
      completed: 'yes',
    });
    expect(await client.call('awkward', 'fine')).toBe('fine');
  });
});
