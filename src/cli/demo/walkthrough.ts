import { type Calculator, calculatorService } from '../../examples/calculator.js';
import {
  type Client,
  type ClientProxy,
  type InstanceView,
  type ServerProxy,
  SwitchboardError,
} from '../../index.js';
import { describeError, instanceCount, listingLines, siteListing } from '../format.js';
import type { DemoMesh, DemoSite } from './mesh.js';
import { DemoFailure, ms, type Narrator } from './narrator.js';
import { ServedLog } from './served.js';

/** The sites of the demo, in chain order: bridges link each to the next. */
export const SITES = ['a', 'b', 'c'] as const;

/** How long the mesh may take to show a change at the far end of the chain. */
const SPREAD_BOUND_MS = 5000;

/** What the walkthrough leaves running, for `--keep`. */
export interface DemoState {
  /** The sites, in chain order. */
  sites: DemoSite[];
}

/**
 * The narrated tour of the mesh: a client at site a calls calculator servers
 * at site c through the bridges a–b and b–c, while servers come and go.
 */
export class Walkthrough {
  readonly #mesh: DemoMesh;
  readonly #say: Narrator;
  readonly #served = new ServedLog();

  constructor(mesh: DemoMesh, narrator: Narrator) {
    this.#mesh = mesh;
    this.#say = narrator;
  }

  async run(): Promise<DemoState> {
    const sites = await this.#startSites();
    const [a, b, c] = sites as [DemoSite, DemoSite, DemoSite];
    await this.#startBrokers(sites);
    await this.#link(a, b, c);
    const { client, servers } = await this.#startServers(a, c);
    const calc = client.proxy<Calculator>('calculator');
    await this.#callAcross(calc);
    await this.#exceptionAcross(calc);
    await this.#timeoutAcross(client);
    await this.#listMesh(client);
    const [first, second] = servers;
    await this.#stopOneOfTwo(calc, c, first, second);
    await this.#stopTheLast(client, calc, second);
    await this.#takeOver(client, calc, c);
    return { sites };
  }

  #startSites(): Promise<DemoSite[]> {
    return this.#say.step('Start a nats-server per site', async (t0) => {
      const sites = await this.#mesh.startSites(SITES);
      for (const site of sites) {
        const where =
          site.nats.pid !== undefined ? `nats-server pid ${site.nats.pid}` : site.nats.backend;
        this.#say.detail(`site ${site.name}: ${site.url} (${where})`);
      }
      this.#say.detail(`${sites.length} sites; they share nothing but the bridges to come`, t0);
      return sites;
    });
  }

  #startBrokers(sites: readonly DemoSite[]): Promise<void> {
    return this.#say.step('Start a broker per site', async (t0) => {
      const brokers = await Promise.all(sites.map((site) => this.#mesh.startBroker(site)));
      const names = brokers.map((broker) => broker.site).join(', ');
      this.#say.detail(`the brokers of sites ${names} each own their site's registry`, t0);
    });
  }

  #link(a: DemoSite, b: DemoSite, c: DemoSite): Promise<void> {
    return this.#say.step(
      `Link the sites: bridges ${a.name}–${b.name} and ${b.name}–${c.name}`,
      (t0) =>
        Promise.all([this.#mesh.link(a, b), this.#mesh.link(b, c)]).then((bridges) => {
          for (const bridge of bridges) {
            const { local, remote } = bridge.sites;
            this.#say.detail(`bridge linked site ${local} and site ${remote}`);
          }
          this.#say.detail(`a chain ${a.name} – ${b.name} – ${c.name}`, t0);
        }),
    );
  }

  #startServers(a: DemoSite, c: DemoSite) {
    const title = `Start two calculator servers at site ${c.name}; a client at site ${a.name} looks them up`;
    return this.#say.step(title, async (t0) => {
      const client = await this.#mesh.connect(a);
      this.#say.detail(
        `at site ${a.name}: const calc = client.proxy<Calculator>('calculator')`,
        t0,
      );
      const t1 = performance.now();
      const servers: [ServerProxy, ServerProxy] = [
        await this.#serveCalculator(c, 'calc-1'),
        await this.#serveCalculator(c, 'calc-2'),
      ];
      this.#say.detail(`calc-1 and calc-2 registered with the broker of site ${c.name}`, t1);
      const t2 = performance.now();
      const [route] = await this.#until(client, (found) => found.length > 0);
      this.#say.detail(`calculator visible at site ${a.name}: ${describeRoute(route)}`, t2);
      return { client, servers };
    });
  }

  #callAcross(calc: ClientProxy<Calculator>): Promise<void> {
    return this.#say.step('Call calculator.add(1, 2) from site a', async (t0) => {
      const before = this.#served.snapshot();
      const sum = await calc.add(1, 2);
      if (sum !== 3) throw new DemoFailure(`add(1, 2) returned ${sum}`);
      const path = this.#served.lastPath.join(' → ');
      this.#say.detail(
        `→ ${sum}, served by ${this.#served.since(before)}; the call crossed ${path}`,
        t0,
      );
    });
  }

  #exceptionAcross(calc: ClientProxy<Calculator>): Promise<void> {
    return this.#say.step(
      'A handler exception crosses the mesh: calculator.divide(1, 0)',
      async (t0) => {
        const err = await expectError(calc.divide(1, 0), 'APPLICATION');
        if (err.appCode !== 'DIVIDE_BY_ZERO' || err.site !== 'c') {
          throw new DemoFailure(`expected DIVIDE_BY_ZERO at site c, got ${describeError(err)}`);
        }
        this.#say.detail(`→ ${describeError(err)}`, t0);
        const path = err.path ? `, path ${err.path.join(' → ')}` : '';
        this.#say.detail(
          `  thrown as ${err.remoteName}, details ${JSON.stringify(err.details)}${path}`,
        );
      },
    );
  }

  #timeoutAcross(client: Client): Promise<void> {
    const title = 'A deadline across two bridges: calculator.sleep(2000) with a 200 ms timeout';
    return this.#say.step(title, async (t0) => {
      const impatient = client.proxy<Calculator>('calculator', { timeoutMs: 200 });
      const err = await expectError(impatient.sleep(2000), 'TIMEOUT');
      this.#say.detail(`→ ${describeError(err)}`, t0);
    });
  }

  #listMesh(client: Client): Promise<void> {
    return this.#say.step('List the mesh from site a (switchboard ls --mesh)', async (t0) => {
      const list = await client.list();
      this.#say.block(listingLines(list, true));
      const remote = list.services.flatMap((s) => s.instances).filter((i) => i.site === 'c');
      if (remote.length === 0) throw new DemoFailure('site a lists nothing at site c');
      this.#say.detail(
        `site ${list.site} reaches calculator at site c by one route: the bridges stand for both servers`,
        t0,
      );
    });
  }

  #stopOneOfTwo(
    calc: ClientProxy<Calculator>,
    c: DemoSite,
    first: ServerProxy,
    second: ServerProxy,
  ): Promise<void> {
    return this.#say.step(`Stop ${first.instanceId} gracefully; calls go on`, async (t0) => {
      await this.#mesh.stop(first);
      this.#say.detail(`${first.instanceId} deregistered, drained and disconnected`, t0);
      const t1 = performance.now();
      const before = this.#served.snapshot();
      const sums = await Promise.all([1, 2, 3, 4].map((i) => calc.add(10, i)));
      if (sums.join() !== '11,12,13,14') throw new DemoFailure(`add(10, i) returned ${sums}`);
      if (this.#served.countSince(before, first.instanceId) > 0) {
        throw new DemoFailure(`${first.instanceId} served a call after it stopped`);
      }
      this.#say.detail(
        `→ add(10, 1..4) = ${sums.join(', ')}, served by ${this.#served.since(before)}`,
        t1,
      );
      const t2 = performance.now();
      const clientAtC = await this.#mesh.connect(c);
      const atC = siteListing(await clientAtC.list());
      this.#say.block(listingLines(atC));
      const count = instanceCount(atC);
      if (count !== 1) throw new DemoFailure(`expected 1 instance at site c, listed ${count}`);
      this.#say.detail(`1 instance left at site ${atC.site}: ${second.instanceId}`, t2);
    });
  }

  #stopTheLast(client: Client, calc: ClientProxy<Calculator>, last: ServerProxy): Promise<void> {
    return this.#say.step(`Stop ${last.instanceId} too: no calculator is left`, async (t0) => {
      await this.#mesh.stop(last);
      this.#say.detail(`${last.instanceId} deregistered, drained and disconnected`, t0);
      const t1 = performance.now();
      await this.#until(client, (found) => found.length === 0);
      this.#say.detail('the bridges withdrew the route: site a sees no calculator', t1);
      const t2 = performance.now();
      const err = await expectError(calc.add(1, 2), 'UNAVAILABLE');
      this.#say.detail(`→ ${describeError(err)}`, t2);
    });
  }

  #takeOver(client: Client, calc: ClientProxy<Calculator>, c: DemoSite): Promise<void> {
    return this.#say.step(`A new server at site ${c.name} takes over`, async (t0) => {
      const server = await this.#serveCalculator(c, 'calc-3');
      this.#say.detail(`${server.instanceId} registered with the broker of site ${c.name}`, t0);
      const t1 = performance.now();
      const [route] = await this.#until(client, (found) => found.length > 0);
      this.#say.detail(`calculator visible at site a again: ${describeRoute(route)}`, t1);
      const t2 = performance.now();
      const before = this.#served.snapshot();
      const sum = await calc.add(1, 2);
      if (sum !== 3) throw new DemoFailure(`add(1, 2) returned ${sum}`);
      this.#say.detail(`→ add(1, 2) = ${sum}, served by ${this.#served.since(before)}`, t2);
    });
  }

  #serveCalculator(site: DemoSite, id: string): Promise<ServerProxy> {
    return this.#mesh.serve(site, this.#served.wrap(calculatorService(), id), id);
  }

  /** Polls `client.lookup('calculator')` until `done` holds; fails after a bound. */
  async #until(client: Client, done: (found: InstanceView[]) => boolean): Promise<InstanceView[]> {
    const t0 = performance.now();
    for (;;) {
      const found = await client.lookup('calculator');
      if (done(found)) return found;
      if (ms(t0) > SPREAD_BOUND_MS) {
        throw new DemoFailure(`the mesh did not settle within ${SPREAD_BOUND_MS} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** `site c, via b → c (2 hops)`. */
function describeRoute(route: InstanceView | undefined): string {
  if (!route) return 'nowhere';
  const hops = `${route.hops} hop${route.hops === 1 ? '' : 's'}`;
  return `site ${route.site}, via ${route.path.join(' → ')} (${hops})`;
}

/** The error `call` fails with, which must have `code`. */
async function expectError(call: Promise<unknown>, code: string): Promise<SwitchboardError> {
  try {
    const value = await call;
    throw new DemoFailure(`expected ${code}, got the result ${JSON.stringify(value)}`);
  } catch (err) {
    if (err instanceof DemoFailure) throw err;
    if (!(err instanceof SwitchboardError) || err.code !== code) {
      throw new DemoFailure(`expected ${code}, got ${String(err)}`);
    }
    return err;
  }
}
