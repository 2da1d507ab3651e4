/**
 * The page's HTML and style sheet. Static: no data is ever put into them on
 * the server; the script (page/main.js) fills the page in as text.
 */

/** The one page. */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard mesh</title>
<link rel="stylesheet" href="style.css">
<script type="module" src="app/main.js"></script>
</head>
<body>
<a class="skip" href="#tables">Skip to the tables</a>
<header>
  <h1>Switchboard mesh <span id="where"></span></h1>
  <p id="status" class="status" role="status" aria-live="polite" data-state="connecting">Connecting to the dashboard…</p>
</header>
<main>
  <section class="graph" aria-labelledby="graph-title">
    <h2 id="graph-title">Topology</h2>
    <p class="hint" id="graph-hint">Tab to a site or a link, or move between them with the arrow keys; Enter shows it below.</p>
    <svg id="graph" role="group" aria-labelledby="graph-title" aria-describedby="graph-hint graph-summary" viewBox="0 0 640 240"></svg>
    <p id="graph-summary" class="summary"></p>
    <ul class="legend" aria-label="Legend">
      <li><svg width="44" height="12" aria-hidden="true"><line x1="2" y1="6" x2="42" y2="6" class="link up"/></svg> link up (solid)</li>
      <li><svg width="44" height="12" aria-hidden="true"><line x1="2" y1="6" x2="42" y2="6" class="link down"/></svg> link down (dashed, marked ✕)</li>
      <li><svg width="16" height="16" aria-hidden="true"><circle cx="8" cy="8" r="6" class="site here"/></svg> this dashboard's site (double ring)</li>
      <li><svg width="16" height="16" aria-hidden="true"><circle cx="8" cy="8" r="6" class="site gone"/></svg> site no longer reachable (dotted)</li>
    </ul>
  </section>
  <section class="details" aria-labelledby="details-title">
    <h2 id="details-title">Selected</h2>
    <div id="details" aria-live="polite"><p>Select a site or a link in the picture.</p></div>
  </section>
  <div id="tables" tabindex="-1">
    <section aria-labelledby="links-title">
      <h2 id="links-title">Links</h2>
      <table id="links-table">
        <caption>Bridges seen from here: state, routes through them, calls and errors per second</caption>
        <thead><tr><th scope="col">Link</th><th scope="col">State</th><th scope="col">Routes</th><th scope="col">Calls/s one way</th><th scope="col">Calls/s other way</th><th scope="col">Errors/s by code</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>
    <section aria-labelledby="services-title">
      <h2 id="services-title">Services</h2>
      <table id="services-table">
        <caption>Every service reachable from here, by site; open a row's versions for its instances or routes</caption>
        <thead><tr><th scope="col">Service</th><th scope="col">Site</th><th scope="col">Instances</th><th scope="col">Versions</th><th scope="col">Calls/s</th><th scope="col">Errors/s by code</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>
    <section aria-labelledby="errors-title">
      <h2 id="errors-title">Recent errors</h2>
      <table id="errors-table">
        <caption>The last failure of each endpoint here as it happened, newest first</caption>
        <thead><tr><th scope="col">Time</th><th scope="col">Call</th><th scope="col">Code</th><th scope="col">Message</th><th scope="col">Origin site</th><th scope="col">Path</th><th scope="col">Count</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>
  </div>
</main>
<footer>
  <p>Seen from one site: its routes show the sites and links beyond it; traffic and errors are what crosses this site's instances and routes. Calls between other sites, and remote instance counts, cannot be seen from here.</p>
</footer>
</body>
</html>
`;

/**
 * The style sheet. Colours from the Okabe–Ito palette (told apart with the
 * common colour blindnesses); state is also said by line style and text.
 */
export const STYLE_CSS = `:root {
  --up: #0072b2;
  --down: #d55e00;
  --here: #009e73;
  --muted: #595959;
  --ink: #1a1a1a;
  --paper: #ffffff;
  --panel: #f3f3f3;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
  color: var(--ink);
  background: var(--paper);
}
body { margin: 0 auto; max-width: 72rem; padding: 0 1rem 2rem; line-height: 1.4; }
h1 { font-size: 1.5rem; margin: 1rem 0 0.25rem; }
h2 { font-size: 1.15rem; margin: 1.25rem 0 0.5rem; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 0.5rem; background: var(--paper); padding: 0.25rem 0.5rem; }
.status { margin: 0; padding: 0.4rem 0.6rem; border-left: 0.4rem solid var(--up); background: var(--panel); }
.status[data-state='no-nats'], .status[data-state='no-broker'], .status[data-state='offline'] { border-left-color: var(--down); font-weight: 600; }
.status[data-state='no-nats']::before, .status[data-state='no-broker']::before, .status[data-state='offline']::before { content: '⚠ '; }
.hint, .summary, footer { color: var(--muted); font-size: 0.9rem; }
#graph { width: 100%; height: auto; max-height: 28rem; background: var(--panel); border-radius: 0.25rem; }
main.stale #graph { opacity: 0.55; }
.legend { display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; list-style: none; padding: 0; font-size: 0.9rem; }
.legend li { display: flex; align-items: center; gap: 0.4rem; }
.link { stroke-width: 4; fill: none; }
.link.up { stroke: var(--up); }
.link.down { stroke: var(--down); stroke-dasharray: 8 6; }
.link-hit { stroke: transparent; stroke-width: 18; fill: none; }
.site { fill: var(--paper); stroke: var(--up); stroke-width: 3; }
.site.here { stroke: var(--here); stroke-width: 5; }
.site.gone { stroke: var(--muted); stroke-dasharray: 3 4; }
.ring { fill: none; stroke: var(--here); stroke-width: 2; }
.label { font-size: 13px; fill: var(--ink); }
.label.name { font-size: 16px; font-weight: 700; }
.label.state-down { fill: var(--down); font-weight: 700; }
.label.state-up { fill: var(--up); }
.label.small { font-size: 11px; fill: var(--muted); }
.node, .edge { cursor: pointer; }
.node:focus, .edge:focus { outline: none; }
.node:focus-visible .site, .node.selected .site { stroke: var(--ink); stroke-width: 6; }
.edge:focus-visible .link-hit, .edge.selected .link-hit { stroke: rgba(0, 0, 0, 0.18); }
table { border-collapse: collapse; width: 100%; margin-bottom: 0.5rem; font-size: 0.95rem; }
caption { text-align: left; color: var(--muted); font-size: 0.85rem; padding-bottom: 0.25rem; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #d0d0d0; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.state-up::before { content: '● '; color: var(--up); }
.state-down::before { content: '✕ '; color: var(--down); }
td.state-down { color: var(--down); font-weight: 700; }
.message { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
details summary { cursor: pointer; }
dl.meta { margin: 0.25rem 0 0.5rem 1rem; display: grid; grid-template-columns: max-content 1fr; gap: 0 0.75rem; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.details { background: var(--panel); padding: 0 0.75rem 0.5rem; border-radius: 0.25rem; }
a:focus-visible, summary:focus-visible, [tabindex]:focus-visible { outline: 3px solid var(--ink); outline-offset: 2px; }
@media (prefers-reduced-motion: no-preference) { .link { transition: stroke 0.2s; } }
`;
