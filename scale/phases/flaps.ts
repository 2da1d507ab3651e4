/**
 * Links going down and up: one link toggled every second (a hub link), or a
 * random link every second (ring, grid), for a while. Meanwhile the routing
 * state is checked for loops; afterwards, with every link up again, the time
 * until every route is valid and shortest. Then one link cut and left down,
 * and restored, each timed the same way.
 */
import type { CheckResult } from '../checks.js';
import type { ControlMonitor } from '../control-monitor.js';
import { type ScaleMesh, sleep } from '../mesh.js';
import { round } from '../stats.js';
import { type SiteRates, siteRates } from './steady.js';

export interface Settling {
  /** Time until converged, in ms, or null if it did not within the limit. */
  ms: number | null;
  check: CheckResult;
  /** When it did not converge: sites whose halves advertise another number of routes than their broker holds. */
  advertisedVersusHeld?: string[];
}

export interface FlapFigures {
  pattern: 'one-link' | 'random';
  /** The link toggled in a one-link storm and cut afterwards. */
  link: string;
  seconds: number;
  /** Link state changes made. */
  toggles: number;
  /** Checks made during the storm and until it settled, and the worst of each count they found. */
  during: { checks: number; loops: number; forwardingLoops: number; stale: number };
  /** Control messages per second per site during the storm. */
  control: SiteRates;
  /** After the last flap (every link up again). */
  afterLastFlap: Settling;
  /** One link cut and left down. */
  linkDown: Settling;
  /** That link restored. */
  linkUp: Settling;
}

const SETTLE_TIMEOUT_MS = 20_000;
const CHECK_EVERY_MS = 250;

async function settle(mesh: ScaleMesh): Promise<Settling> {
  const r = await mesh.waitConverged(SETTLE_TIMEOUT_MS);
  return { ms: r.ok ? round(r.ms) : null, check: r.last };
}

export async function measureFlaps(
  mesh: ScaleMesh,
  monitor: ControlMonitor,
  seconds: number,
  pattern: 'one-link' | 'random',
  maxDown: number,
): Promise<FlapFigures> {
  const links = [...mesh.links.values()];
  // The link a one-link storm toggles, and the one cut afterwards: the middle one.
  const focus = links[Math.floor((links.length - 1) / 2)]!;
  const during = { checks: 0, loops: 0, forwardingLoops: 0, stale: 0 };
  const record = (c: CheckResult) => {
    during.checks++;
    during.loops = Math.max(during.loops, c.loops);
    during.forwardingLoops = Math.max(during.forwardingLoops, c.forwardingLoops);
    during.stale = Math.max(during.stale, c.stale);
  };
  let toggles = 0;
  let storming = true;
  const checker = (async () => {
    while (storming) {
      record(mesh.check());
      await sleep(CHECK_EVERY_MS);
    }
  })();
  await monitor.start();
  const end = performance.now() + seconds * 1000;
  let lastFlapAt = performance.now();
  const toggle = (l: (typeof links)[number]) => {
    if (l.cutter.isCut) l.cutter.restore();
    else l.cutter.cut();
    toggles++;
    lastFlapAt = performance.now();
  };
  for (;;) {
    if (pattern === 'one-link') toggle(focus);
    else {
      const down = links.filter((l) => l.cutter.isCut);
      const pick = (from: typeof links) => from[Math.floor(Math.random() * from.length)]!;
      toggle(down.length >= maxDown ? pick(down) : pick(links));
    }
    if (performance.now() + 1000 > end) break;
    await sleep(1000);
  }
  // The storm ends with every link up: restoring the ones still down is the last flap.
  for (const l of links) if (l.cutter.isCut) toggle(l);
  const control = siteRates(mesh, monitor.rates());
  // The storm's checker ends with it (two at once would take CPU from the settling timed);
  // the settling's checks count for the storm's worst too.
  storming = false;
  await checker;
  const settled = await mesh.waitConverged(SETTLE_TIMEOUT_MS, {
    since: lastFlapAt,
    onCheck: record,
  });
  const afterLastFlap: Settling = {
    ms: settled.ok ? round(settled.ms) : null,
    check: settled.last,
  };
  if (!settled.ok) afterLastFlap.advertisedVersusHeld = mesh.advertisedVersusHeld();
  focus.cutter.cut();
  const linkDown = await settle(mesh);
  focus.cutter.restore();
  const linkUp = await settle(mesh);
  return {
    pattern,
    link: focus.link.id,
    seconds,
    toggles,
    during,
    control,
    afterLastFlap,
    linkDown,
    linkUp,
  };
}
