import { closedOutputStatus } from "../../boundary";
import { UserError } from "../../errors";
import { currentFreeze } from "../../engine/mirror";
import {
  checkRollout,
  checkTargets,
  type DeployedTarget,
  deployStatus,
  knownTargets,
  recordDeployment,
  resolveRev,
} from "../../ops/engine";
import { splitCheckArgs } from "../../ops/rules";
import { printable } from "../../policy/message";
import { type CommandContext, plainValue, requireRole } from "../context";
import { age, short } from "../format";

const RED = (s: string, json: boolean) => (json || !process.stdout.isTTY ? s : `\u001b[31m${s}\u001b[0m`);

/** prodgate deploy record <target>... <rev> [--note T] (role ops). */
export function deployRecordCommand(ctx: CommandContext, args: readonly string[], opts: { note?: string }): number {
  const user = requireRole(ctx, ["ops"], "recording a deployment");
  if (args.length < 2) throw new UserError("name the targets and the revision: prodgate deploy record <target>... <rev>", 2);
  const targets = args.slice(0, -1);
  checkTargets(ctx.engine, targets);
  const note = opts.note === undefined ? null : plainValue(opts.note, "--note");
  const sha = resolveRev(ctx.engine, args[args.length - 1]!);
  const { records } = recordDeployment(ctx.engine, targets, sha, { user, note, source: "command", pushId: null });
  if (ctx.json) {
    ctx.print(JSON.stringify({ sha, records }, null, 2));
    return 0;
  }
  for (const r of records) {
    const flag = r.onProduction ? "" : RED(" (NOT on production-stable: deploy check fails for it until a clean record)", ctx.json);
    ctx.print(`recorded: ${r.target} runs ${short(sha)}${flag}`);
    for (const c of r.retired) ctx.print(`  cowboy #${c.cowboyId} retired on ${r.target}: its fix is there (${c.how}, ${short(c.commit)})`);
  }
  return 0;
}

/** prodgate deploy status [<target>]. */
export function deployStatusCommand(ctx: CommandContext, target: string | undefined): number {
  if (target !== undefined) checkTargets(ctx.engine, [target]);
  const all = deployStatus(ctx.engine, target ?? null);
  if (ctx.json) {
    ctx.print(
      JSON.stringify(
        all.map((t) => ({ ...t, cowboys: t.cowboys })),
        null,
        2,
      ),
    );
    return 0;
  }
  if (all.length === 0) ctx.print("no deployment recorded (prodgate deploy record <target>... <rev>)");
  for (const t of all) {
    const where = t.sha
      ? `${t.stableRevno ? `r${t.stableRevno} ` : ""}${short(t.sha)} since ${t.at} (${age(t.at!)} ago) by ${t.by}`
      : "nothing recorded";
    ctx.print(`${t.target}: ${where}${t.onProduction === false ? RED("  NOT on production-stable", ctx.json) : ""}`);
    const b = t.behind;
    if (b.revisions.length === 0 && b.fixes.length === 0) ctx.print("  the next rollout of production-stable brings nothing new");
    else {
      ctx.print(`  the next rollout of production-stable brings ${b.revisions.length} revision(s), ${b.fixes.length} security fix(es):`);
      for (const r of b.revisions.slice(0, 20)) ctx.print(`    r${r.revno} ${short(r.sha)} ${printable(r.subject)} (${r.verdict})`);
      if (b.revisions.length > 20) ctx.print(`    … and ${b.revisions.length - 20} more (--json)`);
      for (const f of b.fixes) ctx.print(`    security fix ${short(f.sha)} ${printable(f.subject)}`);
    }
    for (const c of t.cowboys) {
      const what = c.commit ? `commit ${short(c.commit)}` : `patch ${short(c.patchId)}`;
      const state = c.readyToRetire ? "ready to retire on next rollout" : RED("its fix is not on production-stable", ctx.json);
      ctx.print(`  cowboy #${c.id} ${what}, ${age(c.at)} old, by ${c.by}: ${printable(c.reason)} — ${state}`);
    }
  }
  return 0;
}

/** prodgate deploy log [<target>]: the records, newest first (a deploy tag recorded late by its acceptance). */
export function deployLogCommand(ctx: CommandContext, target: string | undefined, opts: { limit?: string }): number {
  if (target !== undefined) checkTargets(ctx.engine, [target]);
  const limit = Number(opts.limit ?? "50");
  if (!Number.isInteger(limit) || limit < 1) throw new UserError(`--limit takes a positive number, not "${opts.limit}"`, 2);
  const rows = ctx.engine.store.deployments(target, limit);
  if (ctx.json) {
    ctx.print(JSON.stringify(rows, null, 2));
    return 0;
  }
  if (rows.length === 0) ctx.print("no deployment recorded");
  for (const d of rows) {
    const flag = d.onProduction ? "" : RED("  NOT on production-stable", ctx.json);
    const late = d.acceptedAt
      ? `  (accepted ${d.acceptedAt}, recorded late${d.supersededBy ? `; superseded by #${d.supersededBy}` : ""})`
      : "";
    ctx.print(
      `${d.acceptedAt ?? d.at}  ${d.target}  ${short(d.sha)}  ${d.user}  ${d.source}${d.note ? `: ${printable(d.note)}` : ""}${flag}${late}`,
    );
  }
  return 0;
}

/**
 * prodgate deploy check <target>... [<rev>]: exit 0 when rolling the revision
 * out to every target is safe, 1 when not (one line per reason), 2 on bad input.
 */
export function deployCheckCommand(ctx: CommandContext, args: readonly string[], opts: { ignoreFreeze?: boolean }): number {
  // Automation reads the exit status: a closed output must not turn "unsafe" (or "not yet known") into 0.
  closedOutputStatus(1);
  if (opts.ignoreFreeze) requireRole(ctx, ["ops"], "--ignore-freeze");
  const known = knownTargets(ctx.engine);
  const { targets, rev } = splitCheckArgs(args, known);
  checkTargets(ctx.engine, targets);
  // Without prodgate.targets a misspelt name is a target nobody recorded anything on: safe, and wrong. Say so.
  for (const t of targets.filter((x) => !known.has(x))) {
    process.stderr.write(
      `prodgate: note: nothing was ever recorded on ${t} (a new target, or a misspelt one? prodgate.targets makes unknown names an error)\n`,
    );
  }
  let sha: string | null = null;
  try {
    sha = rev === null ? null : resolveRev(ctx.engine, rev);
  } catch (err) {
    // The last argument was taken for the revision because no target of that name is known.
    if (err instanceof UserError && targets.length > 0 && !rev!.startsWith("-")) {
      throw new UserError(
        `"${rev}" is neither a known target nor a commit in this repository (targets: ${[...known].join(", ") || "none yet"})`,
        2,
      );
    }
    throw err;
  }
  const result = checkRollout(ctx.engine, targets, sha, !!opts.ignoreFreeze);
  closedOutputStatus(result.safe ? 0 : 1);
  if (ctx.json) {
    ctx.print(JSON.stringify({ safe: result.safe, rev: result.rev, targets: result.targets }, null, 2));
  } else {
    for (const t of result.targets) {
      if (t.safe) ctx.print(`${t.target}: safe to roll out ${short(result.rev)}`);
      else for (const r of t.reasons) ctx.print(RED(`${t.target}: UNSAFE [${r.code}] ${r.message}`, ctx.json));
    }
    if (opts.ignoreFreeze && currentFreeze(ctx.engine)) ctx.print("(the freeze was ignored: --ignore-freeze)");
  }
  return result.safe ? 0 : 1;
}

/** The deployments section of `prodgate status`: one line per target, its live cowboys under it. */
export function deploymentsSection(all: readonly DeployedTarget[], json: boolean): string[] {
  if (all.length === 0) return [];
  const lines = ["", "deployments:"];
  for (const t of all) {
    const runs = t.sha ? `${t.stableRevno ? `r${t.stableRevno} ` : ""}${short(t.sha)} (${age(t.at!)} ago, ${t.by})` : "nothing recorded";
    const behind = t.sha ? `, ${t.behind.revisions.length} revision(s) and ${t.behind.fixes.length} fix(es) behind production-stable` : "";
    const state = t.safe ? "" : RED(`  UNSAFE: ${t.reasons.map((r) => r.code).join(", ")}`, json);
    lines.push(`  ${t.target.padEnd(16)} ${runs}${behind}${state}`);
    for (const c of t.cowboys) {
      lines.push(
        `    cowboy #${c.id} ${age(c.at)} old: ${printable(c.reason)}${c.readyToRetire ? " (ready to retire on next rollout)" : ""}`,
      );
    }
  }
  return lines;
}
