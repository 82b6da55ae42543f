// The report's "Deployed" section: each target, how far behind
// production-stable's tip it is, its live cowboys with their age; red when a
// rollout there would not be safe. Pure: a function of what ops/engine gathered.
import { age, esc, revLabel, when } from "../report/html";
import type { DeployedTarget } from "./engine";

const td = (label: string, html: string, cls = "") => `<td data-label="${esc(label)}"${cls ? ` class="${cls}"` : ""}>${html}</td>`;

export function deployedSection(targets: readonly DeployedTarget[], nowMs: number): string {
  const head = `<section aria-labelledby="dpl-h"><h2 id="dpl-h">Deployed (${targets.length})</h2>`;
  if (targets.length === 0) return `${head}<p>No deployment recorded (<code>prodgate deploy record</code>).</p></section>`;
  const rows = targets.map((t) => {
    const runs = t.sha
      ? `${revLabel({ sha: t.sha, revno: t.stableRevno })} <span class="tag">${esc(t.by)}, ${when(t.at)}</span>`
      : "nothing recorded";
    const behind = t.sha
      ? `${t.behind.revisions.length} revision(s)${t.behind.fixes.length ? `, ${t.behind.fixes.length} security fix(es)` : ""}`
      : "-";
    const cowboys = t.cowboys.length
      ? t.cowboys
          .map(
            (c) =>
              `#${esc(c.id)} ${esc(c.reason)} <span class="tag">${esc(age(c.at, nowMs))} old${c.readyToRetire ? ", ready to retire on next rollout" : ""}</span>`,
          )
          .join("<br>")
      : "none";
    const state = t.safe
      ? `<span class="verdict v-ok">safe to roll out</span>`
      : `<span class="verdict v-bad">unsafe</span> ${t.reasons.map((r) => esc(r.message)).join("<br>")}`;
    return `<tr data-target="${esc(t.target)}"${t.safe ? "" : ` class="unsafe"`}>${td("target", `<b>${esc(t.target)}</b>`)}${td("runs", runs)}${td("behind the tip", behind)}${td("live cowboys", cowboys, "subject")}${td("next rollout", state, "subject")}</tr>`;
  });
  return (
    `${head}<div class="scroll"><table id="deployed"><thead><tr><th>target</th><th>runs</th><th>behind the tip</th><th>live cowboys</th><th>next rollout</th></tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table></div></section>`
  );
}
