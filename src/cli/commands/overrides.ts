import { listOverrides, type OverrideCommit, type OverrideRecord, pendingOverrides } from "../../engine/overrides";
import { printable } from "../../policy/message";
import { type CommandContext } from "../context";
import { age, short } from "../format";

/** Break-glass overrides of production-stable and where QA stands on what each brought. */
export function overridesCommand(ctx: CommandContext, opts: { pending?: boolean }): number {
  const all = listOverrides(ctx.engine);
  const shown = opts.pending ? pendingOverrides(all) : all;
  if (ctx.json) {
    ctx.print(JSON.stringify(shown, null, 2));
    return 0;
  }
  if (shown.length === 0) {
    ctx.print(opts.pending ? "no override awaits QA" : "no override has moved production-stable");
    return 0;
  }
  ctx.print(shown.map((o) => describeOverride(o).join("\n")).join("\n\n"));
  return 0;
}

const STATE_TEXT = {
  pending: "AWAITS QA",
  bad: "HOLDS A BAD REVISION",
  judged: "judged",
} as const;

export function commitVerdict(c: OverrideCommit): string {
  const via = c.via ? ` (merged by stable r${c.via.revno})` : "";
  if (c.verdict === "not-on-stable") return "not on stable: QA cannot judge it until it lands there";
  if (c.verdict === "baseline") return "at or behind the baseline";
  if (c.verdict === "bad") return `BAD${via}${c.rolledBack ? ", rolled back in production-stable" : ", not rolled back"}`;
  return `${c.verdict}${via}${c.by ? ` by ${printable(c.by)}` : ""}`;
}

/** An override in a few lines: who, when, why, what, and each commit's verdict. */
export function describeOverride(o: OverrideRecord, nowMs = Date.now()): string[] {
  const lines = [
    `override #${o.id} ${STATE_TEXT[o.state]}: ${printable(o.user ?? "(unknown)")}, ${age(o.at, nowMs)} ago (${o.at}): ${printable(o.why)}`,
    `  ${o.ref.replace(/^refs\/heads\//, "")} ${short(o.old)} → ${short(o.new)}${o.landed === null ? " (landing not yet confirmed)" : ""}`,
  ];
  if (o.overrode) lines.push(`  it overrode: ${printable(o.overrode)}`);
  for (const c of o.commits) lines.push(`  ${c.revno ? `r${c.revno} ` : ""}${short(c.sha)} ${printable(c.subject)}  — ${commitVerdict(c)}`);
  if (o.more) lines.push(`  … and ${o.more} more commits (prodgate overrides --json lists the first 100)`);
  return lines;
}
