import { readFileSync } from "node:fs";
import { UserError } from "../../errors";
import { branchTips } from "../../engine/state";
import type { Cowboy, CowboyTarget } from "../../store/store";
import { checkTargets, commitPatchId, cowboyHeld, patchIdOf, resolveRev } from "../../ops/engine";
import { printable } from "../../policy/message";
import { type CommandContext, plainValue, requireRole } from "../context";
import { age, short } from "../format";

/** prodgate cowboy add <target>... (--commit <rev> | --patch FILE) --reason T (role ops or security). */
export function cowboyAddCommand(
  ctx: CommandContext,
  targets: readonly string[],
  opts: { commit?: string; patch?: string; reason?: string },
): number {
  const user = requireRole(ctx, ["ops", "security"], "recording a cowboy");
  checkTargets(ctx.engine, targets);
  if (opts.commit !== undefined && opts.patch !== undefined) throw new UserError("give --commit or --patch, not both", 2);
  if (opts.commit === undefined && opts.patch === undefined) throw new UserError("say what was applied: --commit <rev> or --patch FILE", 2);
  if (!opts.reason || opts.reason.trim() === "") throw new UserError('say why: --reason "<why>"', 2);
  const reason = plainValue(opts.reason, "--reason").trim();
  const { engine } = ctx;
  let commit: string | null = null;
  let patch: string | null = null;
  let patchId: string | null;
  if (opts.commit !== undefined) {
    commit = resolveRev(engine, opts.commit);
    patchId = commitPatchId(engine, commit);
    // Without a change of its own (a merge, an empty commit) nothing could show whether a revision holds it.
    if (!patchId)
      throw new UserError(
        `${opts.commit} (${short(commit)}) makes no change of its own (a merge or an empty commit); name the commit that makes the fix, or give --patch FILE`,
        2,
      );
  } else {
    try {
      patch = readFileSync(opts.patch!, "utf8");
    } catch (err) {
      throw new UserError(`cannot read the patch file ${opts.patch}: ${(err as Error).message}`, 2);
    }
    patchId = patchIdOf(engine, patch);
    if (!patchId)
      throw new UserError(`${opts.patch} is not a patch (git patch-id finds no change in it); give a diff or git format-patch output`, 2);
  }
  const last = new Map(engine.store.lastDeployments().map((d) => [d.target, d.sha]));
  const id = engine.store.addCowboy({
    commit,
    patchId,
    patch,
    reason,
    user,
    targets: targets.map((t) => ({ target: t, base: last.get(t) ?? null })),
  });
  if (ctx.json) ctx.print(JSON.stringify({ id, commit, patchId, targets }, null, 2));
  else {
    // Say exactly what was recorded: a name like a branch anyone may push could have moved.
    const what = commit ? `commit ${short(commit)} ${printable(engine.repo.commit(commit)?.subject ?? "")}` : `patch ${short(patchId)}`;
    ctx.print(`cowboy #${id} recorded on ${targets.join(", ")}: ${what}`);
    ctx.print("prodgate deploy check fails there until a deployment holds its fix");
  }
  return 0;
}

export function cowboyListCommand(ctx: CommandContext, opts: { live?: boolean }): number {
  const all = ctx.engine.store.cowboys();
  const shown = opts.live ? all.filter((c) => c.targets.some((t) => t.live)) : all;
  // "ready to retire on next rollout": the fix is on production-stable's tip, the target not yet deployed with it.
  const prodTip = branchTips(ctx.engine).productionStable;
  const ready = (c: Cowboy, t: CowboyTarget) => t.live && prodTip !== null && cowboyHeld(ctx.engine, c, t.base, prodTip).held;
  if (ctx.json) {
    ctx.print(
      JSON.stringify(
        shown.map((c) => ({
          id: c.id,
          ...(c.commit ? { commit: c.commit } : { patchId: c.patchId }),
          reason: c.reason,
          by: c.by,
          at: c.at,
          removed: c.removed,
          targets: c.targets.map((t) => ({
            target: t.target,
            live: t.live,
            readyToRetire: ready(c, t),
            retiredAt: t.retiredAt,
            retiredBy: t.retiredBy,
          })),
        })),
        null,
        2,
      ),
    );
    return 0;
  }
  if (shown.length === 0) ctx.print(opts.live ? "no live cowboy" : "no cowboy recorded");
  for (const c of shown) {
    const what = c.commit ? `commit ${short(c.commit)}` : `patch ${short(c.patchId)}`;
    const removed = c.removed ? ` — removed by ${c.removed.by}: ${printable(c.removed.reason)}` : "";
    ctx.print(`#${c.id} ${what} by ${c.by}, ${age(c.at)} ago: ${printable(c.reason)}${removed}`);
    for (const t of c.targets) {
      const state = t.live
        ? ready(c, t)
          ? "live, ready to retire on next rollout"
          : "live"
        : t.retiredBy
          ? `retired ${t.retiredAt} by ${short(t.retiredBy.sha)} (${t.retiredBy.how}, ${short(t.retiredBy.commit)})`
          : "removed";
      ctx.print(`  ${t.target}: ${state}`);
    }
  }
  return 0;
}

export function cowboyRemoveCommand(ctx: CommandContext, idText: string, opts: { reason?: string }): number {
  const user = requireRole(ctx, ["ops", "security"], "removing a cowboy");
  const id = /^#?[0-9]{1,9}$/.test(idText) ? Number(idText.replace("#", "")) : NaN;
  if (!Number.isInteger(id)) throw new UserError(`"${idText}" is not a cowboy id (see prodgate cowboy list)`, 2);
  if (!opts.reason || opts.reason.trim() === "") throw new UserError('say why: --reason "<why>"', 2);
  const reason = plainValue(opts.reason, "--reason").trim();
  if (!ctx.engine.store.removeCowboy(id, user, reason))
    throw new UserError(`there is no cowboy #${id} to remove (see prodgate cowboy list --live)`, 2);
  ctx.print(ctx.json ? JSON.stringify({ id, removed: true }) : `cowboy #${id} removed`);
  return 0;
}
