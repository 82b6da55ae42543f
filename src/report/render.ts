// The deployment report: one self-contained HTML page, a pure function of the
// status report and a few facts gathered with it.
import type { PendingCommit, StatusReport } from "../engine/status";
import type { BranchNames } from "../policy/types";
import type { AuditEntry, Reached, SecurityFix } from "../store/store";
import { age, esc, revLabel, short, when } from "./html";
import { REPORT_CSS } from "./style";
import type { DeployedTarget } from "../ops/engine";
import { deployedSection } from "../ops/report";

export interface ReportExtra {
  /** Configured branch names, to place each tip in the picture. */
  branches: BranchNames;
  /** Latest rejected updates of governed refs, newest first. */
  rejected: readonly AuditEntry[];
  /** Every recorded security fix, oldest first. */
  fixes: readonly SecurityFix[];
  /** When the page was made (ISO); ages are counted to it. */
  generatedAt: string;
  /** Seconds between self-refreshes; omitted or 0 for none. */
  refreshSeconds?: number;
  /** Where the live page came from, shown in the footer. */
  servedBy?: string;
  /** What runs where (deploy records, live cowboys), when gathered. */
  deployed?: readonly DeployedTarget[];
  /** prodgate.tickets.url: a ticket's link, `{id}` standing for its id. */
  ticketUrl?: string | null;
}

/** A ticket id, as a link when a template is configured. */
function ticketHtml(id: string, x: ReportExtra): string {
  if (!x.ticketUrl) return `<span class="ticket">${esc(id)}</span>`;
  return `<a class="ticket" href="${esc(x.ticketUrl.replaceAll("{id}", encodeURIComponent(id)))}">${esc(id)}</a>`;
}

function ticketsCell(p: PendingCommit, x: ReportExtra): string {
  return p.tickets?.length ? ` <span class="tag">${p.tickets.map((t) => ticketHtml(t, x)).join(", ")}</span>` : "";
}

/** Undeployed revisions by ticket: "ticket 4321: r16775 bad, r16791 rollback awaiting QA". */
function ticketsSection(s: StatusReport, x: ReportExtra): string {
  const byTicket = new Map<string, PendingCommit[]>();
  for (const p of s.undeployed) for (const t of p.tickets ?? []) byTicket.set(t, [...(byTicket.get(t) ?? []), p]);
  if (byTicket.size === 0) return "";
  const word = (p: PendingCommit) =>
    `${/\[rollback=/i.test(p.subject) ? "rollback " : ""}${p.verdict === "needstesting" ? "awaiting QA" : p.verdict}`;
  const items = [...byTicket].map(
    ([t, revs]) =>
      `<li data-ticket="${esc(t)}">ticket ${ticketHtml(t, x)}: ` +
      revs.map((p) => `<span class="v-${esc(p.verdict)}">r${esc(p.revno)} ${esc(word(p))}</span>`).join(", ") +
      `</li>`,
  );
  return `<section aria-labelledby="tkt-h"><h2 id="tkt-h">Tickets (${byTicket.size})</h2><ul id="tickets">${items.join("")}</ul></section>`;
}

/** No script runs on this page, whatever a commit says; styles are inline only. */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/** The undeployed table stops here, oldest first: the walk is decided at its old end. */
export const UNDEPLOYED_SHOWN = 200;

const VERDICT_WORDS: Record<string, string> = {
  ok: "ok",
  bad: "bad",
  untestable: "untestable",
  needstesting: "needstesting",
};

export function verdictBadge(verdict: string): string {
  const word = VERDICT_WORDS[verdict] ?? verdict;
  return `<span class="verdict v-${esc(verdict)}">${esc(word)}</span>`;
}

const REASONS: Record<string, string> = {
  needstesting: "it awaits a QA verdict",
  bad: "QA marked it bad and no later revision rolls it back yet",
};

function repositoryName(path: string): string {
  const parts = path.replace(/\/+$/, "").split("/");
  const last = parts.at(-1) ?? path;
  return last === ".git" && parts.length > 1 ? parts.at(-2)! : last;
}

function flow(s: StatusReport, x: ReportExtra): string {
  const tip = (name: string) => s.branches[name] ?? null;
  const node = (cls: string, name: string, more = "") => {
    const t = tip(name);
    // A production branch is told by what it holds, never by a revno of its own.
    const rev = t ? revLabel(t.holds ? { sha: t.sha } : t) : `<span class="muted">absent</span>`;
    return (
      `<div class="${cls ? `node ${cls}` : "node"}" data-branch="${esc(name)}"><span class="name">${esc(name)}</span>` +
      `<span class="rev">${rev}</span>${t && more ? `<span class="muted">${more}</span>` : ""}</div>`
    );
  };
  // production-stable counts its own first-parent chain; say which stable revision it holds.
  const stableTip = tip(x.branches.stable);
  const stableHeld = s.undeployed.length > 0 ? s.undeployed[0]!.revno - 1 : (stableTip?.revno ?? 0);
  const fixesAhead = s.securityPending.filter((f) => !f.stable).length;
  const prodTip = tip(x.branches.productionStable);
  const holds = prodTip?.holds
    ? `holds ${esc(prodTip.holds.text)}`
    : (stableHeld > 0 ? `holds ${esc(x.branches.stable)} r${esc(stableHeld)}` : `holds no ${esc(x.branches.stable)} revision`) +
      (fixesAhead > 0 ? ` + ${fixesAhead} security fix${fixesAhead > 1 ? "es" : ""}` : "");
  const waiting = s.pending.length;
  const qa =
    `<div class="node qa" data-branch="qa"><span class="name">QA</span>` +
    `<span class="rev">${waiting === 0 ? "nothing waits" : `${waiting} awaiting`}</span>` +
    `<span class="muted">deployable: ${s.deployable ? revLabel(s.deployable) : "none"}</span></div>`;
  const arrow = `<div class="arrow" aria-hidden="true">→</div>`;
  const prodDevel = tip(x.branches.productionDevel);
  const side = prodDevel
    ? `<p class="muted" id="security-path">Security path: <b>${esc(x.branches.productionDevel)}</b> ${revLabel(prodDevel.holds ? { sha: prodDevel.sha } : prodDevel)} → ` +
      `${esc(x.branches.productionStable)}, promoted by the security role.</p>`
    : "";
  return (
    `<section aria-labelledby="flow-h"><h2 id="flow-h">Flow</h2>` +
    `<div class="flow" role="group" aria-label="${esc(`${x.branches.devel} to ${x.branches.stable} to QA to ${x.branches.productionStable}`)}">` +
    [
      node("", x.branches.devel),
      node("", x.branches.stable),
      qa,
      node(s.overridesPending.length ? "prod override" : "prod", x.branches.productionStable, holds),
    ].join(arrow) +
    `</div>${side}` +
    (s.inStepWithStable !== null
      ? `<p>${esc(x.branches.productionStable)} is in step with ${esc(x.branches.stable)} r${esc(s.inStepWithStable)}.</p>`
      : "") +
    `</section>`
  );
}

function deployableSummary(s: StatusReport, x: ReportExtra): string {
  const newer = s.deployable ? s.undeployed.some((u) => u.sha === s.deployable!.sha) : false;
  const lines: string[] = [];
  if (!s.deployable) lines.push(`<p><strong>Nothing is deployable yet.</strong></p>`);
  else
    lines.push(
      `<p><strong>Deployable:</strong> ${revLabel(s.deployable)} <span class="subject">${esc(s.deployable.subject)}</span>` +
        (newer ? "" : ` <span class="muted">(already in ${esc(x.branches.productionStable)})</span>`) +
        `</p>`,
    );
  if (s.blocker) {
    lines.push(
      `<p><strong>Stopped by:</strong> ${revLabel(s.blocker)} <span class="subject">${esc(s.blocker.subject)}</span> ` +
        `${verdictBadge(s.blocker.reason)} — ${esc(REASONS[s.blocker.reason] ?? s.blocker.reason)}.</p>`,
    );
  } else if (s.undeployed.length > 0) {
    lines.push(`<p>The newest ${esc(x.branches.stable)} revision is deployable.</p>`);
  }
  const cls = s.blocker ? `stop${s.blocker.reason === "bad" ? " bad" : ""}` : "go";
  return `<section aria-labelledby="dep-h"><h2 id="dep-h">Deployable revision</h2><div class="summary ${cls}" id="deployable">${lines.join("")}</div></section>`;
}

/** A table cell labelled with its column, so a phone can show each row as a block. */
function td(label: string, html: string, cls = ""): string {
  return `<td data-label="${esc(label)}"${cls ? ` class="${cls}"` : ""}>${html}</td>`;
}

function verdictCell(p: PendingCommit): string {
  const tags: string[] = [];
  if (p.source === "message-tag")
    tags.push(
      p.markerBy
        ? `untestable by its message (pushed by ${esc(p.markerBy)}, role ${esc(p.markerRole)}), not by QA`
        : "untestable by its message, not by QA",
    );
  if (p.markerIgnored) tags.push("its message marker does not count");
  if (p.source === "incremental") tags.push(`[incr]: QA'd with ${(p.qaWith ?? []).map((r) => `r${esc(r)}`).join(", ")}`);
  else if (p.qaWith)
    tags.push(
      p.qaWith.length ? `[incr]: waits for r${p.qaWith.map((r) => esc(r)).join(", r")}` : "[incr]: waits for its ticket's next landing",
    );
  if (p.incrIgnored) tags.push("its [incr] marker does not count");
  if (p.heldForRollback) tags.push("held until its rollback");
  if (p.rolledBackBy !== null) tags.push(`rolled back by r${esc(p.rolledBackBy)}`);
  return verdictBadge(p.verdict) + tags.map((t) => ` <span class="tag">${t}</span>`).join("");
}

function undeployedTable(s: StatusReport, x: ReportExtra): string {
  const head = `<section aria-labelledby="und-h"><h2 id="und-h">Undeployed ${esc(x.branches.stable)} revisions (${s.undeployed.length})</h2>`;
  if (s.undeployed.length === 0)
    return `${head}<p>Every ${esc(x.branches.stable)} revision is in ${esc(x.branches.productionStable)}.</p></section>`;
  const shown = s.undeployed.slice(0, UNDEPLOYED_SHOWN);
  const more = s.undeployed.length - shown.length;
  const rows = shown.map((p) => {
    const cls = p.sha === s.deployable?.sha ? "deployable" : p.sha === s.blocker?.sha ? "blocker" : "";
    const mark =
      cls === "deployable"
        ? ` <span class="tag">← deployable</span>`
        : cls === "blocker"
          ? ` <span class="tag">← stops the walk</span>`
          : "";
    return (
      `<tr class="${cls}" data-sha="${esc(p.sha)}">${td("revision", `${revLabel(p)}${mark}`)}${td("subject", esc(p.subject) + ticketsCell(p, x), "subject")}` +
      `${td("verdict", verdictCell(p))}${td("by", esc(p.by ?? ""))}${td("when", when(p.at))}${td("note", esc(p.note ?? ""), "subject")}</tr>`
    );
  });
  return (
    `${head}<p class="muted">Oldest first. ${s.pending.length} awaiting QA.</p><div class="scroll"><table id="undeployed">` +
    `<thead><tr><th>revision</th><th>subject</th><th>verdict</th><th>by</th><th>when</th><th>note</th></tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table></div>` +
    (more > 0 ? `<p>… and ${more} newer revisions (<code>prodgate qa pending</code> lists those awaiting QA).</p>` : "") +
    `</section>`
  );
}

function mirrorSection(s: StatusReport): string {
  const head = `<section aria-labelledby="mir-h"><h2 id="mir-h">Last mirror run</h2>`;
  const m = s.mirror;
  if (!m) return `${head}<p>The mirror has not run yet.</p></section>`;
  const moved = m.from !== m.to && m.to ? ` moved <code>${esc(short(m.from))}</code> → <code>${esc(short(m.to))}</code>` : "";
  const detail = m.detail
    ? m.outcome === "conflict"
      ? `<p>Conflicting paths: ${m.detail
          .split("\n")
          .filter(Boolean)
          .map((p) => `<code>${esc(p)}</code>`)
          .join(", ")}</p>`
      : `<p class="muted">${esc(m.detail)}</p>`
    : "";
  return (
    `${head}<p id="mirror"><span class="outcome">${esc(m.outcome)}</span> at ${when(m.at)}${moved}` +
    `${m.deployableRevno !== null ? ` (deployable was r${esc(m.deployableRevno)})` : ""}</p>${detail}</section>`
  );
}

function reached(r: Reached | null): string {
  return r ? `yes: <code>${esc(short(r.sha))}</code> <span class="tag">by ${esc(r.how)}, ${when(r.at)}</span>` : `<strong>not yet</strong>`;
}

function fixesSection(x: ReportExtra, nowMs: number): string {
  const head = `<section aria-labelledby="sec-h"><h2 id="sec-h">Security fixes (${x.fixes.length})</h2>`;
  if (x.fixes.length === 0) return `${head}<p>No security fix recorded.</p></section>`;
  const pending = x.fixes.filter((f) => !f.devel || !f.stable);
  const ordered = [...pending, ...x.fixes.filter((f) => f.devel && f.stable)];
  const rows = ordered.map((f) => {
    const home = f.devel && f.stable;
    return (
      `<tr data-sha="${esc(f.sha)}">${td("fix", `<code title="${esc(f.sha)}">${esc(short(f.sha))}</code>`)}${td("subject", esc(f.subject), "subject")}` +
      td("state", home ? `<span class="verdict v-ok">back home</span>` : `<span class="verdict v-needstesting">pending</span>`) +
      `${td("promoted", `${esc(f.promotedBy)}, ${when(f.promotedAt)}`)}${td("age", esc(age(f.promotedAt, nowMs)))}` +
      `${td(`in ${x.branches.devel}`, reached(f.devel))}${td(`in ${x.branches.stable}`, reached(f.stable))}</tr>`
    );
  });
  return (
    `${head}<p>${pending.length === 0 ? "Every fix is back in both branches." : `${pending.length} not yet back in both ${esc(x.branches.devel)} and ${esc(x.branches.stable)}.`}</p>` +
    `<div class="scroll"><table id="fixes"><thead><tr><th>fix</th><th>subject</th><th>state</th><th>promoted</th><th>age</th>` +
    `<th>in ${esc(x.branches.devel)}</th><th>in ${esc(x.branches.stable)}</th></tr></thead><tbody>${rows.join("")}</tbody></table></div></section>`
  );
}

function rejectedSection(x: ReportExtra): string {
  const head = `<section aria-labelledby="rej-h"><h2 id="rej-h">Latest rejected pushes</h2>`;
  if (x.rejected.length === 0) return `${head}<p>No push has been rejected.</p></section>`;
  const rows = x.rejected.map(
    (r) =>
      `<tr>${td("when", when(r.at))}${td("who", esc(r.user ?? ""))}${td("ref", `<code>${esc(r.ref ?? "")}</code>`)}` +
      `${td("rule", `<code>${esc(r.code ?? "")}</code>`)}${td("why", esc(r.reason ?? ""), "subject")}</tr>`,
  );
  return (
    `${head}<div class="scroll"><table id="rejected"><thead><tr><th>when</th><th>who</th><th>ref</th><th>rule</th><th>why</th></tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table></div></section>`
  );
}

function freezeBanner(s: StatusReport, x: ReportExtra): string {
  if (!s.freeze) return "";
  return (
    `<div class="banner" role="alert" id="freeze"><strong>FROZEN</strong> — every move of ${esc(x.branches.productionStable)}, by the mirror or by a push, is stopped. ` +
    `Set by ${esc(s.freeze.by)} at ${when(s.freeze.at)}: <q>${esc(s.freeze.reason)}</q></div>`
  );
}

/** Break-glass content QA has not judged (or found bad): red, at the top, until every commit has a verdict. */
function overridesBanner(s: StatusReport, x: ReportExtra, nowMs: number): string {
  if (s.overridesPending.length === 0) return "";
  const items = s.overridesPending.map((o) => {
    const commits = o.commits
      .map((c) => {
        const verdict =
          c.verdict === "not-on-stable"
            ? `<span class="verdict v-bad">not on ${esc(x.branches.stable)}</span>`
            : verdictBadge(c.verdict) + (c.via ? ` <span class="tag">via ${esc(x.branches.stable)} r${esc(c.via.revno)}</span>` : "");
        return `<li data-sha="${esc(c.sha)}">${c.revno ? `r${esc(c.revno)} ` : ""}<code>${esc(short(c.sha))}</code> <span class="subject">${esc(c.subject)}</span> ${verdict}</li>`;
      })
      .join("");
    const more = o.more ? `<li>… and ${esc(o.more)} more</li>` : "";
    return (
      `<li class="ov-${esc(o.state)}"><strong>${o.state === "bad" ? "HOLDS A BAD REVISION" : "awaits QA"}</strong>: ` +
      `override #${esc(o.id)} by ${esc(o.user ?? "(unknown)")}, ${when(o.at)} (${esc(age(o.at, nowMs))} ago): <q>${esc(o.why)}</q>` +
      `<ul>${commits}${more}</ul></li>`
    );
  });
  return (
    `<div class="banner" role="alert" id="overrides"><strong>OVERRIDE</strong> — ${esc(x.branches.productionStable)} holds content ` +
    `put there by a break-glass override that QA has not approved. <code>prodgate overrides --pending</code> lists it.<ul>${items.join("")}</ul></div>`
  );
}

export function renderReport(status: StatusReport, extra: ReportExtra): string {
  const nowMs = Date.parse(extra.generatedAt);
  const name = repositoryName(status.repository);
  const refresh = extra.refreshSeconds ? `<meta http-equiv="refresh" content="${esc(Math.max(1, Math.floor(extra.refreshSeconds)))}">` : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<meta name="generator" content="prodgate">
${refresh}<title>${esc(name)}: deployment report</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<header><h1>Deployment report: ${esc(name)}</h1>
<p class="meta">${esc(status.repository)} · made ${when(extra.generatedAt)}</p></header>
<main>
${overridesBanner(status, extra, nowMs)}
${freezeBanner(status, extra)}
${flow(status, extra)}
${deployableSummary(status, extra)}
${undeployedTable(status, extra)}
${ticketsSection(status, extra)}
${mirrorSection(status)}
${extra.deployed ? deployedSection(extra.deployed, nowMs) : ""}
${fixesSection(extra, nowMs)}
${rejectedSection(extra)}
</main>
<footer>Made by prodgate, read-only. Verdicts: ${["ok", "bad", "untestable", "needstesting"].map(verdictBadge).join(" ")}
${extra.refreshSeconds ? `<span class="live"> · refreshes every ${esc(extra.refreshSeconds)}s${extra.servedBy ? ` from ${esc(extra.servedBy)}` : ""}</span>` : ""}</footer>
</body>
</html>
`;
}
