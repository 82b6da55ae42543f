import { currentFreeze, runMirror } from "../../engine/mirror";
import { UserError } from "../../errors";
import { now } from "../../store/store";
import { type CommandContext, plainValue, requireRole } from "../context";

export function freezeCommand(ctx: CommandContext, reason: string | undefined): number {
  const user = requireRole(ctx, ["admin", "security"], "freezing production-stable");
  if (!reason || reason.trim() === "") throw new UserError('say why: prodgate freeze --reason "<why>"', 2);
  plainValue(reason, "--reason");
  const freeze = { by: user, at: now(), reason: reason.trim() };
  ctx.engine.store.setSetting("freeze", JSON.stringify(freeze), {
    at: freeze.at,
    user,
    ref: `refs/heads/${ctx.engine.config.branches.productionStable}`,
    decision: "freeze",
    reason: freeze.reason,
  });
  ctx.print(ctx.json ? JSON.stringify({ freeze }) : `production-stable frozen: nothing moves it automatically until prodgate thaw`);
  return 0;
}

export function thawCommand(ctx: CommandContext): number {
  const user = requireRole(ctx, ["admin", "security"], "thawing production-stable");
  const was = currentFreeze(ctx.engine);
  if (!was) {
    ctx.print(ctx.json ? JSON.stringify({ freeze: null }) : "production-stable was not frozen");
    return 0;
  }
  ctx.engine.store.setSetting("freeze", null, {
    at: now(),
    user,
    ref: `refs/heads/${ctx.engine.config.branches.productionStable}`,
    decision: "thaw",
    reason: `thawed (frozen by ${was.by}: ${was.reason})`,
  });
  const mirror = runMirror(ctx.engine, "thaw", user);
  ctx.print(ctx.json ? JSON.stringify({ freeze: null, mirror }) : `thawed; ${mirror.line}`);
  return 0;
}
