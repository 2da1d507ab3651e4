/**
 * A seeded storm on a hub-and-spoke mesh of real `Broker`s and `Bridge`s on
 * the in-memory NATS (`memory-mesh.ts`), hunting routes left missing after a
 * link flaps: one spoke's link to the hub (its bridge's hub-side connection,
 * as the scale harness cuts it) goes down and up again and again, sometimes
 * losing what was on the wire, sometimes long enough for its routes' leases
 * to end at the hub, while services restart. Once every link is back, every
 * spoke must hold one route to every service of every other spoke, and the
 * hub one to every spoke's service, within a few refresh intervals.
 *
 * Time is vitest's fake clock (the bus delivers on microtasks, which it
 * leaves alone; setImmediate stays real, so that a late timer's task still
 * waits for what arrived, as in Node), so a storm of seconds runs in
 * milliseconds, with the same steps and waits for a given seed. On failure
 * the message names the seed, what is missing where, and what the hub, the
 * halves (by discovery) and the bridges' logs say about one missing route.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  Bridge,
  type InstanceEvent,
  type InstanceView,
  type ServerProxy,
  type ServiceDefinition,
  serve,
} from '../../src/internal.js';
import { MemoryMesh, type MemorySite } from '../support/memory-mesh.js';
import { collect, idle, type MemoryConnection } from '../support/memory-nats.js';
import { RecordingLogger } from '../support/memory-wire.js';
import { mulberry32 } from '../support/seeded-random.js';

/** Bridge routes renewed this often: their lease at a broker is three times it. */
const HEARTBEAT_MS = 100;
const LEASE_MS = 3 * HEARTBEAT_MS;
const SERVER_HEARTBEAT_MS = 100;
/** Full resynchronisation periods, one per seed in turn: shorter and longer than a flap. */
const REFRESHES_MS = [1000, 400, 2500];
const SPOKES = ['s1', 's2', 's3', 's4'];
/** The link that flaps most. */
const FOCUS = 's2';
/** Services of each spoke; the flapping one has more, as a spoke of the scale run does. */
const servicesOf = (spoke: string) => (spoke === FOCUS ? 10 : 3);
/** Fake-clock step between two looks at the bus. */
const STEP_MS = 10;
/** Longest the mesh may take to settle once every link is up: a few refreshes and leases. */
const settleMs = (refreshMs: number) => 3 * refreshMs + 2 * LEASE_MS;
/** Seeds run (more with `FLAP_SEEDS=<n>`, from `FLAP_FIRST_SEED=<n>`, to hunt further). */
const SEEDS = Array.from(
  { length: Number(process.env.FLAP_SEEDS ?? 16) },
  (_, i) => Number(process.env.FLAP_FIRST_SEED ?? 0x5eed) + i * 7919,
);
const ROUNDS = 70;

/** Advances the fake clock by `ms`, letting the bus hand over what each step brings. */
async function advance(ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= STEP_MS) {
    await vi.advanceTimersByTimeAsync(Math.min(STEP_MS, left));
    await idle();
  }
}

/** `promise`, with the fake clock moving meanwhile; fails naming `what` after `ms` of it. */
async function settled<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let done = false;
  const watched = promise.finally(() => {
    done = true;
  });
  for (let t = 0; !done; t += STEP_MS) {
    if (t > ms) throw new Error(`waited ${ms} ms (fake clock) for ${what}`);
    await advance(STEP_MS);
  }
  return watched;
}

function serviceName(spoke: string, i: number): string {
  return `svc-${spoke}-${i}`;
}

function definition(name: string, spoke: string): ServiceDefinition {
  return { name, version: '1.0.0', methods: { where: () => spoke } };
}

/** One spoke's bridge to the hub, with its two connections and what it said. */
interface Spoke {
  site: MemorySite;
  bridge: Bridge;
  localNc: MemoryConnection;
  /** Its hub-side connection: the one that is cut. */
  hubNc: MemoryConnection;
  logger: RecordingLogger;
  /** Registry events the hub-side half heard (what its site watcher follows). */
  heard: InstanceEvent[];
  servers: Map<string, { server: ServerProxy; nc: MemoryConnection }>;
}

/** The mesh of one seed: a hub, its spokes, a bridge each, a few services each. */
class Storm {
  readonly mesh = new MemoryMesh();
  readonly spokes = new Map<string, Spoke>();
  /** Connection names whose messages the hub's bus drops (a cut losing what was on the wire). */
  readonly lossy = new Set<string>();
  /** What happened, for the failure report. */
  readonly trace: string[] = [];
  /** How often each kind of step was taken. */
  readonly steps = { cuts: 0, lossyCuts: 0, blips: 0, restarts: 0, stalls: 0 };
  hub!: MemorySite;
  #now = 0;

  async start(graceMs: number, refreshMs: number): Promise<void> {
    this.hub = await this.mesh.site('hub');
    this.hub.bus.filter = (d) => !this.lossy.has(d.from) && !this.lossy.has(d.to);
    for (const name of SPOKES) {
      const site = await this.mesh.site(name);
      const localNc = site.bus.connect({ name: `bridge-${name}-local` });
      const hubNc = this.hub.bus.connect({ name: `bridge-${name}-hub` });
      const logger = new RecordingLogger();
      const bridge = await Bridge.start({
        local: { connection: localNc },
        remote: { connection: hubNc, reconnectGraceMs: graceMs },
        heartbeatMs: HEARTBEAT_MS,
        refreshMs,
        maxHops: 4,
        logger,
      });
      const heard: InstanceEvent[] = [];
      bridge.remote.link.brokers.onInstanceEvent((e) => heard.push(e));
      const spoke: Spoke = { site, bridge, localNc, hubNc, logger, heard, servers: new Map() };
      this.spokes.set(name, spoke);
      for (let i = 0; i < servicesOf(name); i++) await this.serve(spoke, serviceName(name, i));
    }
    for (const spoke of this.spokes.values()) {
      expect(await settled(spoke.bridge.ready(), 'bridges to link')).toBe(true);
    }
  }

  async serve(spoke: Spoke, name: string): Promise<void> {
    const nc = spoke.site.bus.connect({ name: `server-${name}` });
    const server = await settled(
      serve(definition(name, spoke.site.name), {
        connection: nc,
        heartbeatMs: SERVER_HEARTBEAT_MS,
        discovery: false,
      }),
      `${name} to start`,
    );
    spoke.servers.set(name, { server, nc });
  }

  /** Stops `name` cleanly; a new instance starts after `gapMs` (0: at once). */
  async restart(spoke: Spoke, name: string, gapMs: number): Promise<void> {
    const held = spoke.servers.get(name)!;
    spoke.servers.delete(name);
    await settled(held.server.close(), `${name} to stop`);
    await held.nc.close();
    if (gapMs > 0) await this.wait(gapMs);
    await this.serve(spoke, name);
  }

  note(what: string): void {
    this.trace.push(`t=${this.#now} ${what}`);
  }

  async wait(ms: number): Promise<void> {
    await advance(ms);
    this.#now += ms;
  }

  /**
   * The process is busy for `ms`: every timer due meanwhile fires, one after
   * the other, before any message that arrived is handed over.
   */
  async stall(ms: number): Promise<void> {
    vi.advanceTimersByTime(ms);
    this.#now += ms;
    await idle();
  }

  /** What is wrong now: each missing or doubled route, by where. */
  problems(): string[] {
    const out: string[] = [];
    const expectOne = (at: MemorySite, service: string, host: string, path: string[]) => {
      const found = at.broker.registry.lookup(service).filter((i) => i.site === host);
      const good = found.filter((i) => i.path.join(',') === path.join(','));
      if (good.length !== 1 || found.length !== 1) {
        out.push(
          `site ${at.name} holds ${found.length} routes to ${service} at ${host} (${good.length} by ${path.join('→') || 'itself'})`,
        );
      }
    };
    for (const [host, spoke] of this.spokes) {
      for (let i = 0; i < servicesOf(host); i++) {
        const service = serviceName(host, i);
        expectOne(spoke.site, service, host, []);
        expectOne(this.hub, service, host, [host]);
        for (const [other, at] of this.spokes) {
          if (other !== host) expectOne(at.site, service, host, ['hub', host]);
        }
      }
    }
    return out;
  }

  /** Routes each half answers discovery for, named `service` (what its registrar holds). */
  async discovered(bus: MemorySite, service: string): Promise<string[]> {
    const nc = bus.bus.connect({ name: 'probe' });
    const inbox = `_INBOX.probe.${service}`;
    const answers = collect(nc, inbox);
    nc.publish(`$SRV.INFO.${service}`, undefined, { reply: inbox });
    await idle();
    await idle();
    await nc.close();
    return answers.messages.map((m) => {
      const info = JSON.parse(new TextDecoder().decode(m.data));
      return `${info.id} (bridge ${info.metadata?.bridge}, path ${info.metadata?.path})`;
    });
  }

  /** State around the first few problems, to tell where the route was lost. */
  async report(what: string, problems: string[]): Promise<string> {
    const lines = [`${what}: ${problems.length} problems after the storm settled`];
    lines.push(...problems.slice(0, 12).map((p) => `  ${p}`));
    // A spoke lacking a route tells most (the hub may hold it); else the first problem.
    const chosen = problems.find((p) => !p.startsWith('site hub ')) ?? problems[0] ?? '';
    const first = /^site (\S+) holds \d+ routes to (\S+) at (\S+)/.exec(chosen);
    if (first) {
      const [, atName, service, host] = first as unknown as [string, string, string, string];
      const describe = (i: InstanceView) =>
        `${i.id} site=${i.site} path=${i.path.join('→')} bridge=${(i.metadata as Record<string, string>).bridge ?? '-'}`;
      lines.push(`hub registry generation ${this.hub.broker.registry.generation}; ${service}:`);
      lines.push(...this.hub.broker.registry.lookup(service).map((i) => `  ${describe(i)}`));
      const hostSpoke = this.spokes.get(host)!;
      lines.push(
        `hub-side half of ${host} answers discovery for: ${(await this.discovered(this.hub, service)).join('; ') || 'nothing'}`,
      );
      lines.push(`${host} bridge: hub half ${hostSpoke.bridge.remote.routeCount} routes`);
      const at = atName === 'hub' ? undefined : this.spokes.get(atName);
      if (at) {
        lines.push(
          `${atName} registry: ${at.site.broker.registry.lookup(service).map(describe).join('; ') || 'nothing'}`,
        );
        lines.push(
          `${atName} local half answers discovery for: ${(await this.discovered(at.site, service)).join('; ') || 'nothing'}`,
        );
        lines.push(
          `${atName} bridge: local half ${at.bridge.local.routeCount} routes, hub half connected ${at.bridge.remote.connected}`,
        );
        lines.push(`${atName}'s hub-side half heard about ${service} (last 10):`);
        lines.push(
          ...at.heard
            .filter((e) => e.service === service)
            .slice(-10)
            .map((e) => `  ${e.kind} ${e.id} ${e.since ?? '?'} → ${e.generation ?? '?'}`),
        );
        lines.push(
          `${atName}'s hub-side half heard ${at.heard.length} events; last generation ${at.heard.at(-1)?.generation}`,
        );
        lines.push(`${atName} bridge said about ${service} (last 10):`);
        lines.push(
          ...at.logger.lines
            .filter(
              (l) =>
                l.message.includes(service) || JSON.stringify(l.fields ?? {}).includes(service),
            )
            .slice(-10)
            .map((l) => `  ${l.level} ${l.message}`),
        );
      }
      lines.push(`${host} bridge said about ${service} (last 10):`);
      lines.push(
        ...hostSpoke.logger.lines
          .filter((l) => l.message.includes(service))
          .slice(-10)
          .map((l) => `  ${l.level} ${l.message}`),
      );
    }
    lines.push('storm (last 30 steps):', ...this.trace.slice(-30).map((t) => `  ${t}`));
    return lines.join('\n');
  }

  /**
   * What the storm brought about: leases of the focus spoke's routes ended
   * at the hub (as another spoke's half heard it), its link lost and back,
   * and back within the reconnect grace.
   */
  outcomes(): { expiredAtHub: number; lost: number; moved: number } {
    const other = [...this.spokes.values()].find((sp) => sp.site.name !== FOCUS)!;
    const focus = this.spokes.get(FOCUS)!;
    return {
      expiredAtHub: other.heard.filter((e) => e.reason === 'expired' && e.site === FOCUS).length,
      lost: focus.logger.at('warn').filter((m) => m.startsWith("lost the connection to site 'hub'"))
        .length,
      moved: focus.logger.at('info').filter((m) => m.includes('its routes stay')).length,
    };
  }

  async close(): Promise<void> {
    for (const spoke of this.spokes.values()) {
      spoke.hubNc.reconnect();
      await settled(spoke.bridge.close(), 'a bridge to close');
      for (const { server, nc } of spoke.servers.values()) {
        await settled(server.close(), 'a server to close');
        await nc.close();
      }
    }
    await settled(this.mesh.close(), 'the brokers to close');
  }
}

/**
 * One seed's storm: mostly the focus link cut and restored (some cuts losing
 * what was on the wire, some shorter than the reconnect grace, some longer
 * than the lease), now and then another link, and services restarting,
 * more of them in the first part. Waits range from a few ms to over a second.
 */
async function storm(s: Storm, random: () => number): Promise<void> {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const waits = [5, 20, 60, 150, 250, 400, 700, 1200];
  for (let round = 0; round < ROUNDS; round++) {
    const churny = round < ROUNDS / 3;
    const roll = random();
    if (roll < 0.08) {
      const ms = pick([100, 300, 800]);
      s.note(`stall ${ms} ms`);
      s.steps.stalls++;
      await s.stall(ms);
    } else if (roll < (churny ? 0.5 : 0.22)) {
      const spoke = s.spokes.get(random() < 0.5 ? FOCUS : pick(SPOKES))!;
      const service = serviceName(
        spoke.site.name,
        Math.floor(random() * servicesOf(spoke.site.name)),
      );
      const gap = pick([0, 0, 50, 200]);
      s.note(`restart ${service} (gap ${gap} ms)`);
      s.steps.restarts++;
      await s.restart(spoke, service, gap);
    } else {
      const name = random() < 0.8 ? FOCUS : pick(SPOKES);
      const spoke = s.spokes.get(name)!;
      if (spoke.hubNc.up) {
        const lossy = random() < 0.3;
        s.note(`cut ${name}${lossy ? ' (losing what is on the wire)' : ''}`);
        s.steps.cuts++;
        if (lossy) s.steps.lossyCuts++;
        if (lossy) {
          // What the half sends just before the cut, and what is sent to it, is lost.
          s.lossy.add(spoke.hubNc.name);
          await s.wait(pick([1, 5, 20]));
          s.lossy.delete(spoke.hubNc.name);
        }
        spoke.hubNc.disconnect();
        if (random() < 0.2) {
          const blip = pick([2, 10, 40]);
          await s.wait(blip);
          s.note(`restore ${name} after a blip of ${blip} ms`);
          s.steps.blips++;
          spoke.hubNc.reconnect();
        }
      } else {
        s.note(`restore ${name}`);
        spoke.hubNc.reconnect();
      }
    }
    await s.wait(pick(waits));
  }
  for (const [name, spoke] of s.spokes) {
    if (!spoke.hubNc.up) {
      s.note(`restore ${name} (storm over)`);
      spoke.hubNc.reconnect();
    }
  }
}

/** Polls until nothing is wrong, for at most `ms` of the fake clock; what is wrong then. */
async function quiesce(s: Storm, ms: number): Promise<string[]> {
  let problems = s.problems();
  for (let t = 0; problems.length > 0 && t < ms; t += 50) {
    await s.wait(50);
    problems = s.problems();
  }
  return problems;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('bridge flap fuzz', () => {
  test('bridge flaps - every route is back at every spoke once the links are up, whatever the storm', async () => {
    const failures: string[] = [];
    let runs = 0;
    const seen = {
      cuts: 0,
      lossyCuts: 0,
      blips: 0,
      restarts: 0,
      stalls: 0,
      expiredAtHub: 0,
      lost: 0,
      moved: 0,
    };
    for (const [n, seed] of SEEDS.entries()) {
      // setImmediate stays real: a late timer's task waits for what arrived meanwhile, as in Node.
      vi.useFakeTimers({
        toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
      });
      const random = mulberry32(seed);
      const s = new Storm();
      try {
        // Half the seeds see the link through a reconnect grace (a NATS cluster); half without (one URL).
        const refreshMs = REFRESHES_MS[n % REFRESHES_MS.length]!;
        await s.start(n % 2 === 0 ? 0 : 150, refreshMs);
        const before = await quiesce(s, settleMs(refreshMs));
        expect(before, `seed ${seed}: the mesh settles before the storm`).toEqual([]);
        await storm(s, random);
        const problems = await quiesce(s, settleMs(refreshMs));
        const what = `seed ${seed} (grace ${n % 2 === 0 ? 0 : 150} ms, refresh ${refreshMs} ms)`;
        if (problems.length > 0) failures.push(await s.report(what, problems));
        else {
          // Still so a while later: no refresh or expiry undoes it.
          await s.wait(2 * refreshMs);
          const later = s.problems();
          if (later.length > 0) failures.push(await s.report(what, later));
        }
        for (const [k, v] of Object.entries({ ...s.steps, ...s.outcomes() })) {
          seen[k as keyof typeof seen] += v;
        }
        runs++;
      } finally {
        await s.close();
        vi.useRealTimers();
      }
    }
    expect(runs).toBe(SEEDS.length);
    // The storms did what they are for: each kind of step, leases ended at the hub, both kinds of return.
    for (const [what, count] of Object.entries(seen)) expect(count, what).toBeGreaterThan(0);
    if (process.env.FLAP_VERBOSE) process.stdout.write(`${JSON.stringify(seen)}\n`);
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, 120_000);
});
