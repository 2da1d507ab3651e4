/** The scale report as text: one table of the main figures, then details per run. */
import type { SiteRates } from './phases/steady.js';
import type { RunFigures } from './run.js';

interface Report {
  machine: { cpus: number; cpuModel: string; memGiB: number; loadAverageAtEnd: number[] };
  process: string;
  runs: RunFigures[];
}

const dash = '–';

function n(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || Number.isNaN(value)) return dash;
  return value.toFixed(digits);
}

function rates(r: SiteRates | undefined): string {
  if (!r) return dash;
  return r.hub === undefined
    ? `${n(r.mean)} / ${n(r.max)}`
    : `${n(r.hub)} | ${n(r.mean)} / ${n(r.max)}`;
}

/** Lays out rows under headers, columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(headers),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

function problems(run: RunFigures): string {
  const checks = [run.final, run.churn?.after, run.flaps?.afterLastFlap.check].filter(
    (c) => c !== undefined,
  );
  const loops = Math.max(
    0,
    ...checks.map((c) => c.loops + c.forwardingLoops),
    run.flaps?.during.loops ?? 0,
  );
  const stuck = Math.max(0, ...checks.map((c) => c.stale + c.missing + c.longer + c.blackholes));
  return `${loops} / ${stuck}`;
}

export function formatReport(report: Report): string {
  const { machine, runs } = report;
  const out: string[] = [];
  out.push(
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB; load average at the end ${machine.loadAverageAtEnd.join(' ')}.`,
    `${report.process}. NATS: "shared" = one nats-server for every site (a subject prefix per site); "per-site" = one nats-server per site.`,
    '',
  );
  out.push(
    table(
      [
        'topology',
        'NATS',
        'sites',
        'services',
        'converge s',
        'callable p50/p99 ms',
        'everywhere p99 ms',
        'withdrawn p50/p99 ms',
        'control msg/s per site (hub | mean / max)',
        'federation msg/s',
        'biggest registry',
        'broker B/entry',
        'mesh B/route',
        'relay µs/hop node+nats',
        'churn settle ms',
        'flap settle ms',
        'loops / stuck',
      ],
      runs.map((r) => [
        r.topology,
        r.mode,
        String(r.sites),
        String(r.services),
        n(r.startup.convergeMs === null ? null : r.startup.convergeMs / 1000, 1),
        r.propagation
          ? `${n(r.propagation.callable.p50)} / ${n(r.propagation.callable.p99)}`
          : dash,
        n(r.propagation?.everywhere.p99),
        r.propagation
          ? `${n(r.propagation.withdrawn.p50)} / ${n(r.propagation.withdrawn.p99)}`
          : dash,
        rates(r.steady?.control),
        rates(r.steady?.federation),
        r.sizes ? `${r.sizes.registry.biggest.entries} (${r.sizes.registry.biggest.site})` : dash,
        n(r.memory?.biggestBroker.bytesPerEntry),
        n(r.memory?.mesh?.bytesPerRoute),
        r.relay ? `${n(r.relay.perHopUs.node)}+${n(r.relay.perHopUs.nats)}` : dash,
        n(r.churn?.settleMs),
        n(r.flaps?.afterLastFlap.ms),
        problems(r),
      ]),
    ),
  );
  for (const r of runs) {
    out.push('', `${r.topology}, ${r.mode} NATS (${r.links} bridges, hop limit ${r.maxHops}):`);
    const { sent } = r.startup;
    out.push(
      `  linking: every component sent ${sent.msgs} messages (${sent.mib} MiB) until ${r.startup.convergeMs === null ? 'the check gave up' : 'converged'}`,
    );
    const s = r.sizes;
    if (s) {
      out.push(
        `  sizes: registry mean ${s.registry.mean} entries; bridge routes mean ${s.bridgeRoutes.mean}, biggest ${s.bridgeRoutes.biggest.routes} (${s.bridgeRoutes.biggest.link}); NATS RSS ${s.natsRssMiB.total} MiB (biggest ${s.natsRssMiB.biggest}); node heap ${s.nodeMiB.heap} MiB, RSS ${s.nodeMiB.rss} MiB${s.siteProcessesMiB ? `; ${s.siteProcessesMiB.count} site processes RSS ${s.siteProcessesMiB.total} MiB (biggest ${s.siteProcessesMiB.biggest})` : ''}`,
      );
    }
    const st = r.steady;
    if (st) {
      out.push(
        `  steady: sent by a site's components ${rates(st.sent)} msg/s, ${rates(st.sent.kibPerS)} KiB/s; CPU node ${st.cpuPct.node} %, nats ${st.cpuPct.nats} %; event-loop lag p99 ${n(st.lag.p99Ms)} ms`,
      );
      for (const { site, kinds } of st.byKind) {
        out.push(
          `    ${site}: ${Object.entries(kinds)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        );
      }
    }
    const p = r.propagation;
    if (p) {
      out.push(
        `  propagation over ${p.hops} hops, ${p.samples} samples (${p.failures} failed): callable max ${n(p.callable.max)} ms, everywhere p50 ${n(p.everywhere.p50)} max ${n(p.everywhere.max)} ms, withdrawn max ${n(p.withdrawn.max)} ms`,
      );
    }
    const rl = r.relay;
    if (rl) {
      out.push(
        `  relay: ${rl.calls} calls ${rl.from}→${rl.to} (${rl.hops} hops): local ${rl.localUs.node}+${rl.localUs.nats} µs, remote ${rl.remoteUs.node}+${rl.remoteUs.nats} µs per call (node+nats); ${rl.failures} failed`,
      );
    }
    const c = r.churn;
    if (c) {
      out.push(
        `  churn: ${c.restarts} restarts in ${c.seconds} s; control ${rates(c.control)} msg/s per site; CPU node ${c.cpuPct.node} %, nats ${c.cpuPct.nats} %; lag p99 ${n(c.lag.p99Ms)} ms; calls ${JSON.stringify(c.calls)}; settled ${n(c.settleMs)} ms`,
      );
    }
    const f = r.flaps;
    if (f) {
      out.push(
        `  flaps (${f.pattern}, ${f.toggles} changes in ${f.seconds} s): during ${f.during.checks} checks, worst loops ${f.during.loops}, forwarding loops ${f.during.forwardingLoops}, stale ${f.during.stale}; control ${rates(f.control)} msg/s; settled ${n(f.afterLastFlap.ms)} ms after the last; ${f.link} cut: ${n(f.linkDown.ms)} ms, restored: ${n(f.linkUp.ms)} ms`,
      );
    }
    const unsettled = f?.afterLastFlap.advertisedVersusHeld;
    if (unsettled) {
      const shown = unsettled.length === 0 ? 'none' : unsettled.slice(0, 5).join('; ');
      out.push(`  not settled after the flaps; routes advertised by halves against held: ${shown}`);
    }
    const m = r.memory;
    if (m) {
      out.push(
        `  memory: broker ${m.biggestBroker.site}'s registry rebuilt alone: ${m.biggestBroker.kib} KiB for ${m.biggestBroker.entries} entries (${m.biggestBroker.bytesPerEntry} B per entry); heap gained by linking the mesh: ${m.mesh ? `${m.mesh.kib} KiB for ${m.mesh.routes} routes held by brokers (${m.mesh.bytesPerRoute} B per route, bridges included)` : dash}`,
      );
    }
    const examples = [r.startup.check, r.final, r.churn?.after, r.flaps?.afterLastFlap.check]
      .filter((c) => c !== undefined)
      .flatMap((c) => c.examples);
    if (examples.length > 0)
      out.push(`  problems seen: ${[...new Set(examples)].slice(0, 5).join('; ')}`);
  }
  return `${out.join('\n')}\n`;
}
