// The report's only stylesheet, inlined into the page: no fonts, no external
// files, so the page works from a file on a laptop with no network.
export const REPORT_CSS = `
:root { color-scheme: light; --ok: #1a7f37; --ok-bg: #dafbe1; --bad: #b3261e; --bad-bg: #ffebe9;
  --wait: #7a5200; --wait-bg: #fff4c2; --untestable: #4a5560; --untestable-bg: #eaeef2; --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1rem; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #fff; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.1rem; margin: 1.75rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
p { margin: .4rem 0; }
code { font: .92em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.muted { color: var(--muted); }
.meta { color: var(--muted); font-size: .9rem; margin: 0 0 1rem; word-break: break-all; }
.banner { border: 3px solid var(--bad); background: var(--bad-bg); color: #5f1410; padding: .6rem .8rem; border-radius: 6px; margin: 1rem 0; }
.banner strong { font-size: 1.1rem; letter-spacing: .03em; }
.flow { display: flex; flex-wrap: wrap; align-items: stretch; gap: .35rem; margin: .5rem 0; }
.node { border: 2px solid var(--line); border-radius: 8px; padding: .45rem .65rem; min-width: 8.5rem; flex: 1 1 8.5rem; background: #f6f8fa; }
.node .name { font-weight: 600; display: block; }
.node .rev { font-size: 1.15rem; display: block; }
.node.qa { border-style: dashed; background: #fff; }
.node.prod { border-color: var(--ok); }
.node.prod.override { border-color: var(--bad); background: var(--bad-bg); }
.node.side { border-style: dotted; }
.arrow { align-self: center; font-size: 1.3rem; color: var(--muted); flex: 0 0 auto; }
.summary { border-left: 6px solid var(--line); padding: .5rem .8rem; background: #f6f8fa; border-radius: 0 6px 6px 0; }
.summary.go { border-left-color: var(--ok); }
.summary.stop { border-left-color: var(--wait); }
.summary.stop.bad { border-left-color: var(--bad); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .93rem; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
th { font-weight: 600; background: #f6f8fa; }
td.subject { min-width: 14rem; overflow-wrap: anywhere; }
tr.deployable td { background: var(--ok-bg); }
tr.blocker td { background: var(--wait-bg); }
tr.unsafe td { background: var(--bad-bg); }
.verdict { display: inline-block; padding: .05rem .45rem; border-radius: 4px; border: 1px solid currentColor; font-weight: 700;
  font-size: .82rem; letter-spacing: .02em; white-space: nowrap; }
.verdict::before { margin-right: .3em; }
.v-ok { color: var(--ok); background: var(--ok-bg); } .v-ok::before { content: "\\2713"; }
.v-bad { color: var(--bad); background: var(--bad-bg); } .v-bad::before { content: "\\2717"; }
.v-needstesting { color: var(--wait); background: var(--wait-bg); } .v-needstesting::before { content: "?"; }
.v-untestable { color: var(--untestable); background: var(--untestable-bg); } .v-untestable::before { content: "\\2013"; }
.tag { font-size: .8rem; color: var(--muted); white-space: nowrap; }
.outcome { font-weight: 700; }
footer { margin-top: 2rem; font-size: .85rem; color: var(--muted); border-top: 1px solid var(--line); padding-top: .5rem; }
@media (max-width: 40rem) {
  body { padding: .6rem; font-size: 14px; }
  .arrow { transform: rotate(90deg); flex-basis: 100%; text-align: center; }
  .node { flex-basis: 100%; }
  table, tbody, tr, td { display: block; }
  thead { display: none; }
  tr { border-bottom: 1px solid var(--line); padding: .35rem .2rem; }
  td { border: 0; padding: .1rem 0; }
  td:empty { display: none; }
  td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); font-size: .8rem; }
  td.subject { min-width: 0; }
}
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .scroll { overflow: visible; }
  tr { break-inside: avoid; }
  h2 { break-after: avoid; }
  footer .live { display: none; }
}
`;
