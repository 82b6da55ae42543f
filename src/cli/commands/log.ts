import { UserError } from "../../errors";
import { reconcileLandings } from "../../engine/reconcile";
import { printable } from "../../policy/message";
import { type CommandContext, plainValue } from "../context";
import { short } from "../format";

export function logCommand(ctx: CommandContext, opts: { limit?: string; ref?: string; user?: string; rejected?: boolean }): number {
  const limit = opts.limit === undefined ? 50 : Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UserError(`--limit takes a whole number above 0, not "${opts.limit}"`, 2);
  if (opts.ref !== undefined) plainValue(opts.ref, "--ref");
  if (opts.user !== undefined) plainValue(opts.user, "--user");
  try {
    // Settle what can be settled now, so the log says what landed; reading never fails for it.
    reconcileLandings(ctx.engine);
  } catch {
    // A read-only database or a busy one: shown as not yet known.
  }
  const rows = ctx.engine.store.log({ limit, ref: opts.ref, user: opts.user, rejected: opts.rejected });
  if (ctx.json) {
    ctx.print(
      JSON.stringify(
        rows.map((r) => ({
          at: r.at,
          user: r.user,
          ref: r.ref,
          old: r.old,
          new: r.new,
          decision: r.decision,
          reason: r.reason,
          code: r.code,
          detail: r.detail,
          pushId: r.pushId,
          landed: r.landed ?? null,
        })),
        null,
        2,
      ),
    );
    return 0;
  }
  for (const r of rows) {
    const mark = r.decision === "override" ? "OVERRIDE " : "";
    const landed = r.landed === true ? " (landed)" : r.landed === false ? " (did not land)" : "";
    const move = r.ref ? ` ${printable(r.ref)} ${short(r.old)}→${short(r.new)}` : "";
    ctx.print(
      `${r.at} ${mark}${r.decision}${r.code ? ` [${r.code}]` : ""}${landed} ${printable(r.user ?? "-")}${move}: ${printable(r.reason ?? "")}`,
    );
    if (r.detail && r.decision === "override") ctx.print(`    ${printable(r.detail)}`);
  }
  return 0;
}
