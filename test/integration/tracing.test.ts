/**
 * Trace context across a three-site chain, with an in-memory OpenTelemetry
 * exporter: one trace, its spans in parent order (client, relay a→b, relay
 * b→c, handler, and a call the handler makes, with its own handler).
 */
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type CallContext, Client, serve } from '../../src/internal.js';
import { eventually, startBridge, startSite, track } from './helpers.js';

const exporter = new InMemorySpanExporter();

beforeAll(() => {
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
});

afterAll(() => {
  trace.disable();
});

/** The span whose parent is `span`, among `spans`. */
function childOf(spans: ReadableSpan[], span: ReadableSpan | undefined): ReadableSpan | undefined {
  return spans.find((s) => s.parentSpanContext?.spanId === span?.spanContext().spanId);
}

describe('tracing', () => {
  test('tracing - a call from a to c is one trace: client, relay a→b, relay b→c, handler, and the handler nested call', async () => {
    const [a, b, c] = [await startSite('a'), await startSite('b'), await startSite('c')];
    await startBridge(a, b);
    await startBridge(b, c);
    const atC = track(await Client.connect({ nats: c.url }));
    track(
      await serve(
        { name: 'leaf', methods: { left: (ctx: CallContext) => ctx.deadline - Date.now() } },
        { nats: c.url },
      ),
    );
    track(
      await serve(
        {
          name: 'front',
          methods: {
            // The nested call inherits the remaining deadline through `parent`.
            ask: (ctx: CallContext) => atC.call('leaf', 'left', [], { parent: ctx }),
          },
        },
        { nats: c.url },
      ),
    );
    const client = track(await Client.connect({ nats: a.url }));
    await eventually(async () => (await client.lookup('front')).length > 0, 5000, 'route to c');
    exporter.reset();
    const left = (await client.call('front', 'ask', [], { timeoutMs: 3000 })) as number;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(3000);

    await eventually(() => exporter.getFinishedSpans().length >= 6, 5000, 'six spans');
    const spans = exporter.getFinishedSpans();
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    const root = spans.find((s) => !s.parentSpanContext);
    const chain = [root];
    for (let i = 0; i < 5; i++) chain.push(childOf(spans, chain.at(-1)));
    expect(chain.map((s) => s?.name)).toEqual([
      'front.ask',
      'relay a→b',
      'relay b→c',
      'front.ask',
      'leaf.left',
      'leaf.left',
    ]);
    expect(chain.map((s) => s?.kind)).toEqual([2, 0, 0, 1, 2, 1]);
    expect(chain[3]?.attributes).toMatchObject({
      'switchboard.site': 'c',
      'switchboard.path': 'a,b,c',
      'switchboard.code': 'OK',
    });
  });

  test('tracing - a failed call ends its spans with an error status and the code', async () => {
    const site = await startSite('a');
    track(
      await serve(
        {
          name: 'bad',
          methods: {
            fail: () => {
              throw new RangeError('no');
            },
          },
        },
        { nats: site.url },
      ),
    );
    const client = track(await Client.connect({ nats: site.url }));
    exporter.reset();
    await client.call('bad', 'fail').catch(() => undefined);
    await eventually(() => exporter.getFinishedSpans().length >= 2, 5000, 'two spans');
    for (const span of exporter.getFinishedSpans()) {
      expect(span.status.code).toBe(2);
      expect(span.attributes['switchboard.code']).toBe('APPLICATION');
    }
  });
});
