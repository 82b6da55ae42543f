import { withMirrorLock } from "../../engine/lock";
import { currentFreeze, runMirror } from "../../engine/mirror";
import { UserError } from "../../errors";
import { now } from "../../store/store";
import { type CommandContext, plainValue, requireRole } from "../context";

export function freezeCommand(ctx: CommandContext, reason: string | undefined): number {
  const user = requireRole(ctx, ["admin", "security"], "freezing production-stable");
  if (!reason || reason.trim() === "") throw new UserError('say why: prodgate freeze --reason "<why>"', 2);
  plainValue(reason, "--reason");
  const freeze = { by: user, at: now(), reason: reason.trim() };
  // Under the mirror's lock: a mirror already deciding finishes first, and
  // none that starts after this command returns moves production-stable.
  withMirrorLock(ctx.engine.repo.gitDir, () =>
    ctx.engine.store.setSetting("freeze", JSON.stringify(freeze), {
      user,
      ref: `refs/heads/${ctx.engine.config.branches.productionStable}`,
      decision: "freeze",
      reason: freeze.reason,
    }),
  );
  ctx.print(ctx.json ? JSON.stringify({ freeze }) : `production-stable frozen: nothing moves it automatically until prodgate thaw`);
  return 0;
}

export function thawCommand(ctx: CommandContext): number {
  const user = requireRole(ctx, ["admin", "security"], "thawing production-stable");
  const mirror = withMirrorLock(ctx.engine.repo.gitDir, () => {
    const was = currentFreeze(ctx.engine);
    if (!was) return null;
    ctx.engine.store.setSetting("freeze", null, {
      user,
      ref: `refs/heads/${ctx.engine.config.branches.productionStable}`,
      decision: "thaw",
      reason: `thawed (frozen by ${was.by}: ${was.reason})`,
    });
    return runMirror(ctx.engine, "thaw", user);
  });
  if (!mirror) {
    ctx.print(ctx.json ? JSON.stringify({ freeze: null }) : "production-stable was not frozen");
    return 0;
  }
  ctx.print(ctx.json ? JSON.stringify({ freeze: null, mirror }) : `thawed; ${mirror.line}`);
  return 0;
}
