import { buildStatus } from "../../engine/status";
import { deployedOverview } from "../../ops/engine";
import { deploymentsSection } from "./deploy";
import { type CommandContext } from "../context";
import { age, ago, describeVerdict, rev, short } from "../format";
import { printable } from "../../policy/message";
import { describeOverride } from "./overrides";

export function statusCommand(ctx: CommandContext): number {
  const s = buildStatus(ctx.engine);
  const deployments = deployedOverview(ctx.engine);
  if (ctx.json) {
    ctx.print(JSON.stringify({ ...s, deployments }, null, 2));
    return 0;
  }
  const lines: string[] = [];
  for (const [name, tip] of Object.entries(s.branches)) {
    // Production branches are told by what they hold in stable's revisions, never by a revno of their own.
    const what = !tip ? "(absent)" : tip.holds ? `holds ${tip.holds.text}  (tip ${short(tip.sha)})` : rev(tip);
    lines.push(`${name.padEnd(18)} ${what}`);
  }
  if (s.inStepWithStable !== null) lines.push(`production-stable is in step with stable r${s.inStepWithStable}`);
  lines.push("");
  lines.push(`deployable:        ${s.deployable ? rev(s.deployable) : "nothing yet"}`);
  if (s.blocker) lines.push(`stopped by:        ${rev(s.blocker)} (${s.blocker.reason})`);
  if (s.freeze) lines.push(`FROZEN by ${s.freeze.by} ${ago(s.freeze.at)}: ${printable(s.freeze.reason)}`);
  if (s.mirror) {
    const m = s.mirror;
    lines.push(`last mirror run:   ${m.outcome} ${ago(m.at)}${m.to && m.outcome !== "up-to-date" ? ` (now ${short(m.to)})` : ""}`);
    if (m.outcome === "conflict" && m.detail) lines.push(`  conflicting paths: ${m.detail.split("\n").join(", ")}`);
    if (m.outcome === "blocked" && m.detail) lines.push(`  blocked: ${m.detail}`);
    // A move to an earlier revision than the deployable one: the newer one drops a security fix's change.
    if ((m.outcome === "moved" || m.outcome === "merged") && m.detail) lines.push(`  held: ${m.detail}`);
  } else {
    lines.push("last mirror run:   never");
  }
  lines.push("");
  lines.push(s.pending.length ? `awaiting QA (${s.pending.length}):` : "awaiting QA: nothing");
  for (const p of s.pending.slice(0, 20)) lines.push(`  ${rev(p)}${pendingNote(p)}`);
  if (s.pending.length > 20) lines.push(`  … and ${s.pending.length - 20} more (prodgate qa pending)`);
  const byMessage = s.undeployed.filter((p) => p.source === "message-tag");
  if (byMessage.length) {
    lines.push(`untestable by their message, not judged by QA (${byMessage.length}):`);
    for (const p of byMessage.slice(0, 20)) lines.push(`  ${rev(p)}  (${describeVerdict(p)})`);
    if (byMessage.length > 20) lines.push(`  … and ${byMessage.length - 20} more (prodgate status --json)`);
  }
  if (s.overridesPending.length) {
    const bad = s.overridesPending.filter((o) => o.state === "bad").length;
    lines.push("");
    lines.push(
      `OVERRIDES NOT YET JUDGED BY QA (${s.overridesPending.length}${bad ? `, ${bad} holding a BAD revision` : ""}): production-stable holds content no one approved`,
    );
    for (const o of s.overridesPending) lines.push(...describeOverride(o).map((l) => `  ${l}`));
  }
  if (s.securityPending.length) {
    const oldest = s.securityPending[0]!;
    lines.push("");
    lines.push(`security fixes not yet back (${s.securityPending.length}, oldest ${age(oldest.promotedAt)}):`);
    for (const f of s.securityPending) {
      lines.push(`  ${short(f.sha)} ${printable(f.subject)}  devel: ${f.devel ? "yes" : "no"}  stable: ${f.stable ? "yes" : "no"}`);
    }
  }
  lines.push(...deploymentsSection(deployments, ctx.json));
  ctx.print(lines.join("\n"));
  return 0;
}

export function pendingNote(
  p: { markerIgnored: boolean; override?: { id: number; user: string | null } } & Parameters<typeof describeVerdict>[0],
): string {
  if (p.override) return `  (in production-stable by override #${p.override.id} of ${printable(p.override.user ?? "(unknown)")})`;
  return p.markerIgnored || p.qaWith || p.incrIgnored || p.byTicket ? `  (${describeVerdict(p)})` : "";
}
