/**
 * Shared pieces of the integration tests: real nats-server per site (through
 * the project's fixture), and a cleanup list so every test closes what it
 * started, in reverse order, even when it fails.
 */
import { encode } from '@msgpack/msgpack';
import { connect, type Msg, type NatsConnection } from 'nats';
import { afterEach } from 'vitest';
import { Bridge, type BridgeOptions } from '../../src/bridge/index.js';
import { Broker, type BrokerOptions } from '../../src/broker/index.js';
import type { Client } from '../../src/index.js';
import {
  type NatsServerHandle,
  type NatsServerOptions,
  startNatsServer,
} from '../../src/testing/index.js';

interface Closable {
  close(): Promise<void>;
}

const started: Closable[] = [];

afterEach(async () => {
  const errors: unknown[] = [];
  for (const item of started.splice(0).reverse()) {
    await item.close().catch((err: unknown) => errors.push(err));
  }
  if (errors.length > 0) throw errors[0];
});

/** Closes `item` after the current test. */
export function track<T extends Closable>(item: T): T {
  started.push(item);
  return item;
}

/** A site: its NATS server and, unless told otherwise, one broker. */
export interface TestSite {
  name: string;
  nats: NatsServerHandle;
  url: string;
  broker: Broker | undefined;
}

/** Starts a site's nats-server and a broker on it; both are closed after the test. */
export async function startSite(
  name: string,
  options: {
    broker?: boolean;
    nats?: NatsServerOptions;
    brokerOptions?: Partial<BrokerOptions>;
  } = {},
): Promise<TestSite> {
  const nats = track(await startNatsServer({ name, ...options.nats }));
  const broker =
    options.broker === false
      ? undefined
      : track(await Broker.start({ nats: nats.url, site: name, ...options.brokerOptions }));
  return { name, nats, url: nats.url, broker };
}

/** Starts a bridge between two test sites and waits until it links them; closed after the test. */
export async function startBridge(
  a: TestSite,
  b: TestSite,
  options: Partial<BridgeOptions> = {},
): Promise<Bridge> {
  const link = track(
    await Bridge.start({
      local: { nats: a.url },
      remote: { nats: b.url },
      heartbeatMs: 200,
      ...options,
    }),
  );
  if (!(await link.ready())) throw new Error(`the bridge ${a.name}-${b.name} did not link`);
  return link;
}

/** Polls `check` until it returns true, failing after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves when `fn` rejects, with the rejection (fails if it resolves). */
export async function failure(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (err) {
    return err as Record<string, unknown>;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** What {@link registerRaw} registers; every field has a default. */
export interface RawRegistration {
  id: string;
  service: string;
  version?: string;
  methods?: string[];
  metadata?: Record<string, string>;
  heartbeatMs?: number;
  secret?: string;
  route?: { site: string; path: string[] };
}

/**
 * Registers an instance with the site's brokers over a plain NATS
 * connection, as any process could, without serving it (a stale entry);
 * returns the broker's reply.
 */
export async function registerRaw(url: string, reg: RawRegistration): Promise<Msg> {
  const nc = await connect({ servers: url });
  try {
    const instance = {
      version: '1.0.0',
      methods: ['add'],
      metadata: {},
      heartbeatMs: 60_000,
      secret: 'raw-registration-secret',
      ...reg,
    };
    const kind = reg.route ? 'broker.route' : 'broker';
    return await nc.request(`sb.${kind}.register.${reg.service}`, encode({ v: 1, instance }), {
      timeout: 2000,
    });
  } finally {
    await nc.close();
  }
}

/** Something that happens once: `open()` it, and `opened` resolves. */
export interface Latch {
  readonly opened: Promise<void>;
  open(): void;
}

/** A latch, to await a moment inside a handler instead of sleeping. */
export function latch(): Latch {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Waits until `client` resolves `service` to an instance at `site` (with this many hops). */
export async function reachable(client: Client, service: string, site: string, hops?: number) {
  await eventually(
    async () =>
      (await client.lookup(service)).some(
        (i) => i.site === site && (hops === undefined || i.hops === hops),
      ),
    5000,
    `${service} at site ${site}${hops === undefined ? '' : ` in ${hops} hops`}`,
  );
}

export { type Where, whereService } from '../support/where-service.js';

/** The next `count` messages on `subject`, as received. */
export function receive(nc: NatsConnection, subject: string, count: number): Promise<Msg[]> {
  const sub = nc.subscribe(subject, { max: count });
  return (async () => {
    const got: Msg[] = [];
    for await (const msg of sub) got.push(msg);
    return got;
  })();
}
