import { resolveCommitSpec } from "../../engine/revs";
import { runMirror } from "../../engine/mirror";
import { parseRevSpec } from "../../policy/revspec";
import { now } from "../../store/store";
import { type CommandContext, requireRole } from "../context";
import { short } from "../format";

export function baselineCommand(ctx: CommandContext, revText: string | undefined): number {
  const { engine } = ctx;
  if (revText === undefined) {
    const baseline = engine.store.getSetting("baseline");
    ctx.print(ctx.json ? JSON.stringify({ baseline }) : `baseline: ${baseline ?? "none"}`);
    return 0;
  }
  const user = requireRole(ctx, ["admin"], "moving the baseline");
  const sha = resolveCommitSpec(engine, parseRevSpec(revText));
  const previous = engine.store.getSetting("baseline");
  engine.store.setSetting("baseline", sha, {
    at: now(),
    user,
    old: previous,
    new: sha,
    decision: "baseline",
    reason: `baseline moved to ${short(sha)}`,
  });
  const mirror = runMirror(engine, "baseline", user);
  ctx.print(ctx.json ? JSON.stringify({ baseline: sha, mirror }) : `baseline: ${short(sha)}; ${mirror.line}`);
  return 0;
}
