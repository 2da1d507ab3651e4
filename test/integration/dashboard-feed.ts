/**
 * For the dashboard's tests: its live feed (`/events`, server-sent events)
 * read as a page reads it (a test waits for a snapshot that shows what it
 * expects), the chain a–b–c they watch, and a service with hostile text.
 */
import { fileURLToPath } from 'node:url';
import {
  ApplicationError,
  type Bridge,
  calculatorService,
  Dashboard,
  type MeshSnapshot,
  type ServerProxy,
  serve,
} from '../../src/internal.js';
import { startBridge, startSite, type TestSite, track } from './helpers.js';

/** The page's compiled script, as `npm run build` leaves it. */
export const PAGE_DIR = fileURLToPath(new URL('../../dist/dashboard/page/', import.meta.url));

/** Snapshots from one feed, as they come. */
export class SnapshotFeed {
  readonly #abort = new AbortController();
  readonly #waiters = new Set<() => void>();
  readonly #reading: Promise<void>;
  latest: MeshSnapshot | undefined;
  count = 0;

  private constructor(body: ReadableStream<Uint8Array>) {
    this.#reading = this.#read(body);
  }

  /** Opens the feed of the dashboard at `url` (its page's address). */
  static async open(url: string): Promise<SnapshotFeed> {
    const abort = new AbortController();
    const res = await fetch(new URL('events', url), { signal: abort.signal });
    if (res.status !== 200 || !res.body) throw new Error(`the feed answered ${res.status}`);
    if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
      throw new Error(`the feed is ${res.headers.get('content-type')}`);
    }
    const feed = new SnapshotFeed(res.body);
    feed.#abort.signal.addEventListener('abort', () => abort.abort());
    return feed;
  }

  /**
   * Resolves with the first snapshot (the latest, or one to come) for which
   * `check` is true; rejects after `timeoutMs`, saying what was awaited and
   * what the latest snapshot showed.
   */
  next(
    check: (snapshot: MeshSnapshot) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<MeshSnapshot> {
    return new Promise((resolve, reject) => {
      const test = (): void => {
        if (this.latest && check(this.latest)) {
          clearTimeout(timer);
          this.#waiters.delete(test);
          resolve(this.latest);
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(test);
        reject(
          new Error(
            `no snapshot within ${timeoutMs} ms shows ${what}; the latest: ${JSON.stringify(this.latest)}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(test);
      test();
    });
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#reading;
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event
            .split('\n')
            .filter((line) => line.startsWith('data: '))
            .map((line) => line.slice('data: '.length))
            .join('\n');
          if (data === '') continue;
          this.latest = JSON.parse(data) as MeshSnapshot;
          this.count++;
          for (const waiter of [...this.#waiters]) waiter();
        }
      }
    } catch {
      // Aborted, or the dashboard closed: the feed ends.
    }
  }
}

/** The link between `x` and `y` in `snapshot`, if drawn. */
export function linkOf(snapshot: MeshSnapshot, x: string, y: string) {
  return snapshot.links.find((l) => (l.a === x && l.b === y) || (l.a === y && l.b === x));
}

/** Text a page must show as text: as HTML, it would run a script. */
export const HOSTILE = '<img src=x onerror=alert(1)>';

/**
 * A service at `url` whose metadata and error message are {@link HOSTILE}
 * (its name cannot be: the protocol takes names only).
 */
export function serveHostile(url: string): Promise<ServerProxy> {
  return serve(
    {
      name: 'hostile',
      metadata: { note: HOSTILE },
      methods: {
        fail: () => {
          throw new ApplicationError('HOSTILE', HOSTILE);
        },
      },
    },
    { nats: url },
  );
}

/**
 * The chain a–b–c with the calculator at c and a dashboard at a that looks
 * twice a second; all closed after the test.
 */
export async function watchChain(): Promise<{
  a: TestSite;
  c: TestSite;
  bc: Bridge;
  dashboard: Dashboard;
}> {
  const a = await startSite('a');
  const b = await startSite('b');
  const c = await startSite('c');
  await startBridge(a, b);
  const bc = await startBridge(b, c);
  track(await serve(calculatorService(), { nats: c.url }));
  const dashboard = track(
    await Dashboard.start({ nats: a.url, port: 0, scriptDir: PAGE_DIR, lookMs: 500 }),
  );
  return { a, c, bc, dashboard };
}
