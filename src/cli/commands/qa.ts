import { withMirrorLock } from "../../engine/lock";
import { runMirror } from "../../engine/mirror";
import { resolveMainline } from "../../engine/revs";
import { buildStatus } from "../../engine/status";
import { UserError } from "../../errors";
import { isVerdict, VERDICTS } from "../../policy/types";
import { type CommandContext, plainValue, requireRole } from "../context";
import { ago, renderTable, rev, short } from "../format";
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
  const status = buildStatus(ctx.engine);
  const { pending } = status;
  const authored = authorsAndDates(
    ctx,
    pending.map((p) => p.sha),
  );
  if (ctx.json) {
    ctx.print(
      JSON.stringify(
        pending.map((p) => ({ ...p, author: authored.get(p.sha)?.author ?? null, committedAt: authored.get(p.sha)?.at ?? null })),
        null,
        2,
      ),
    );
    return 0;
  }
  // What blocks the walk comes first: a bad revision with no rollback stops everything after it.
  const b = status.blocker;
  if (b?.reason === "bad") ctx.print(`stopped by: ${rev(b)} is BAD and no later revision rolls it back ([rollback=r${b.revno}])`);
  if (pending.length === 0) {
    ctx.print("nothing awaits QA");
    return 0;
  }
  const now = Date.now();
  ctx.printRendered(
    renderTable(
      pending.map((p) => {
        const a = authored.get(p.sha);
        return [
          { text: `r${p.revno}`, style: "bold" as const },
          { text: short(p.sha), style: "dim" as const },
          { text: a?.author ?? "" },
          { text: a ? ago(a.at, now) : "", style: "dim" as const },
          { text: `${p.subject}${pendingNote(p)}`, style: p.override ? ("red" as const) : undefined },
        ];
      }),
      { colour: ctx.colour, width: ctx.width },
    ),
  );
  return 0;
}

/** Each commit's author name and commit time (ISO), in one git process. */
function authorsAndDates(ctx: CommandContext, shas: readonly string[]): Map<string, { author: string; at: string }> {
  const found = new Map<string, { author: string; at: string }>();
  if (shas.length === 0) return found;
  try {
    const out = ctx.engine.repo.git.out(["log", "--no-walk=unsorted", "-z", "--format=%H%x1f%an%x1f%cI", ...shas, "--"]);
    for (const rec of out.split("\0")) {
      const [sha, author, at] = rec.trim().split("\x1f");
      if (sha && author !== undefined && at) found.set(sha, { author, at: new Date(at).toISOString() });
    }
  } catch {
    // Bazaar histories and damaged repositories: the list without authors.
  }
  return found;
}
