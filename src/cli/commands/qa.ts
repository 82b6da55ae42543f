import { withMirrorLock } from "../../engine/lock";
import { runMirror } from "../../engine/mirror";
import { resolveMainline } from "../../engine/revs";
import { buildStatus } from "../../engine/status";
import { UserError } from "../../errors";
import { isVerdict, VERDICTS } from "../../policy/types";
import { type CommandContext, plainValue, requireRole } from "../context";
import { rev } from "../format";
import { pendingNote } from "./status";

export function qaCommand(ctx: CommandContext, verdict: string, revs: string[], note: string | undefined): number {
  if (verdict === "pending") {
    if (revs.length) throw new UserError("qa pending takes no revisions", 2);
    return qaPending(ctx);
  }
  if (!isVerdict(verdict)) throw new UserError(`unknown verdict "${verdict}": use one of ${VERDICTS.join(", ")}, or pending`, 2);
  if (revs.length === 0) throw new UserError(`name the revisions: prodgate qa ${verdict} <rev>…`, 2);
  if (note !== undefined) plainValue(note, "--note");
  const user = requireRole(ctx, ["qa"], "recording a QA verdict");
  const commits = resolveMainline(ctx.engine, revs);
  // Under the mirror's lock: no mirror is between reading what is deployable
  // and moving production-stable while the verdict is written, so every move
  // that starts after this command returns honours it.
  const mirror = withMirrorLock(ctx.engine.repo.gitDir, () => {
    ctx.engine.store.recordVerdicts(
      commits.map((c) => ({ sha: c.sha, verdict, note: note ?? null, revno: c.revno })),
      user,
      "command",
    );
    return runMirror(ctx.engine, "qa command", user);
  });
  if (ctx.json) {
    ctx.print(JSON.stringify({ recorded: commits.map((c) => ({ sha: c.sha, revno: c.revno, verdict })), mirror }, null, 2));
  } else {
    for (const c of commits) ctx.print(`${verdict}: ${rev(c)}`);
    ctx.print(mirror.line);
  }
  return mirror.outcome === "conflict" ? 1 : 0;
}

function qaPending(ctx: CommandContext): number {
  const { pending } = buildStatus(ctx.engine);
  if (ctx.json) ctx.print(JSON.stringify(pending, null, 2));
  else if (pending.length === 0) ctx.print("nothing awaits QA");
  else for (const p of pending) ctx.print(`${rev(p)}${pendingNote(p)}`);
  return 0;
}
