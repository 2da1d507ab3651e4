/**
 * Errors that help: did-you-mean for services and methods (in the error's
 * details, so the API has them too, not only the CLI), argument checks, and
 * what the CLI prints for each.
 */
import { describe, expect, test } from 'vitest';
import { Client, calculatorService, serve } from '../../src/internal.js';
import { run } from './cli-process.js';
import { failure, startSite, track } from './helpers.js';

describe('helpful errors', () => {
  test('errors - a mistyped service is SERVICE_NOT_FOUND naming the likely one, for direct and thin clients', async () => {
    const site = await startSite('a');
    track(await serve(calculatorService(), { nats: site.url }));
    for (const viaBroker of [false, true]) {
      const client = track(await Client.connect({ nats: site.url, viaBroker }));
      const err = await failure(client.call('calculater', 'add', [1, 2]));
      expect(err, `viaBroker ${viaBroker}`).toMatchObject({
        code: 'SERVICE_NOT_FOUND',
        message: "service 'calculater' is not registered (did you mean 'calculator'?)",
        details: { didYouMean: 'calculator' },
      });
    }
    const client = track(await Client.connect({ nats: site.url }));
    const unrelated = await failure(client.call('zzz', 'add', []));
    expect(unrelated.details).toBeUndefined();
  });

  test('errors - a call naming an invalid service, method, site or range rejects with BAD_REQUEST, never throws', async () => {
    const site = await startSite('a');
    const client = track(await Client.connect({ nats: site.url }));
    for (const [call, message] of [
      [() => client.call('a.b', 'add'), "service name 'a.b' is not valid"],
      [() => client.call('calc', 'add me'), "method name 'add me' is not valid"],
      [() => client.call('calc@x y', 'add'), "site name 'x y' is not valid"],
      [
        () => client.call('calc', 'add', [], { version: '1;2' }),
        "version range '1;2' is not valid",
      ],
    ] as const) {
      let pending: Promise<unknown> | undefined;
      expect(() => {
        pending = call();
      }, message).not.toThrow();
      expect(await failure(pending!), message).toMatchObject({
        code: 'BAD_REQUEST',
        completed: 'no',
        message,
      });
    }
  });

  test('errors - a mistyped method is METHOD_NOT_FOUND listing the methods there are', async () => {
    const site = await startSite('a');
    track(await serve(calculatorService(), { nats: site.url }));
    const client = track(await Client.connect({ nats: site.url }));
    expect(await failure(client.call('calculator', 'ad', [1, 2]))).toMatchObject({
      code: 'METHOD_NOT_FOUND',
      completed: 'no',
      message:
        "service 'calculator' has no method 'ad' (did you mean 'add'?); it has add, divide, sleep",
      details: { methods: ['add', 'divide', 'sleep'], didYouMean: 'add' },
    });
  });

  test('errors - arguments that do not fit the method are BAD_REQUEST, and the handler never runs', async () => {
    const site = await startSite('a');
    let runs = 0;
    track(await serve(calculatorService(), { nats: site.url }));
    track(
      await serve(
        {
          name: 'plain',
          methods: {
            pair: (a: number, b: number) => {
              runs++;
              return [a, b];
            },
            // The CallContext comes last.
            many: (...xs: unknown[]) => xs.length - 1,
          },
          variadic: ['many'],
        },
        { nats: site.url },
      ),
    );
    const client = track(await Client.connect({ nats: site.url }));
    expect(await failure(client.call('calculator', 'add', [1, 2, 3, 4]))).toMatchObject({
      code: 'BAD_REQUEST',
      message: 'add takes 2 arguments, got 4',
    });
    expect(await failure(client.call('calculator', 'add', []))).toMatchObject({
      code: 'BAD_REQUEST',
      message: 'add: argument 1: expected a number, got undefined',
    });
    expect(await failure(client.call('calculator', 'add', [1, 'two']))).toMatchObject({
      code: 'BAD_REQUEST',
      message: 'add: argument 2: expected a number, got "two"',
    });
    expect(await failure(client.call('plain', 'pair', [1, 2, 3]))).toMatchObject({
      code: 'BAD_REQUEST',
      message: 'pair takes 2 arguments, got 3',
    });
    expect(runs).toBe(0);
    expect(await client.call('plain', 'many', [1, 2, 3, 4, 5])).toBe(5);
  });

  test('errors - the CLI prints each mistake on its first line', async () => {
    const site = await startSite('a');
    track(await serve(calculatorService(), { nats: site.url }));
    const firstLine = async (...args: string[]) => {
      const out = await run(['call', ...args, '--nats', site.url]);
      expect(out.code, out.stderr).toBe(1);
      return out.stderr.split('\n')[0];
    };
    expect(await firstLine('calculater.add', '1', '2')).toBe(
      "SERVICE_NOT_FOUND: service 'calculater' is not registered (did you mean 'calculator'?) (at site a, service calculater)",
    );
    expect(await firstLine('calculator.ad', '1', '2')).toMatch(
      /^METHOD_NOT_FOUND: service 'calculator' has no method 'ad' \(did you mean 'add'\?\); it has add, divide, sleep/,
    );
    expect(await firstLine('calculator.add', '1', '2', '3', '4')).toMatch(
      /^BAD_REQUEST: add takes 2 arguments, got 4/,
    );
    expect(await firstLine('calculator.add')).toMatch(
      /^BAD_REQUEST: add: argument 1: expected a number, got undefined/,
    );
  });
});
