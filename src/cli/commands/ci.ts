import { withMirrorLock } from "../../engine/lock";
import { resolveCommitSpec } from "../../engine/revs";
import { UserError } from "../../errors";
import { parseRevSpec } from "../../policy/revspec";
import { isCiResult } from "../../policy/types";
import { type CommandContext, requireRole } from "../context";
import { short } from "../format";

export function ciCommand(ctx: CommandContext, result: string, revText: string): number {
  if (!isCiResult(result)) throw new UserError(`unknown CI result "${result}": use pass or fail`, 2);
  const user = requireRole(ctx, ["ci"], "recording a CI result");
  const sha = resolveCommitSpec(ctx.engine, parseRevSpec(revText));
  // Serialised with the mirror, like verdicts: a result that has returned is seen by every later move.
  withMirrorLock(ctx.engine.repo.gitDir, () => ctx.engine.store.recordCi(sha, result, user, "command"));
  if (ctx.json) ctx.print(JSON.stringify({ sha, result, user }));
  else ctx.print(`CI ${result} recorded for ${short(sha)}`);
  return 0;
}
