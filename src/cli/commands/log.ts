import { UserError } from "../../errors";
import { reconcileLandings } from "../../engine/reconcile";
import { isZeroSha } from "../../policy/types";
import type { AuditEntry } from "../../store/store";
import { type CommandContext, plainValue } from "../context";
import { ago, type Cell, renderTable, short } from "../format";

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
  const brought = overrideContent(ctx, rows);
  ctx.printRendered(
    renderTable(
      rows.map((r) => logRow(r, brought.get(r.id))),
      { colour: ctx.colour, width: ctx.width },
    ),
  );
  return 0;
}

/** At most this many commits of one override are named in its log line. */
const OVERRIDE_COMMITS_NAMED = 5;

/** For each override row of a branch shown: the commits it brought, named in its line (they are its content, not security fixes). */
function overrideContent(ctx: CommandContext, rows: readonly AuditEntry[]): Map<number, string> {
  const named = new Map<number, string>();
  const { repo } = ctx.engine;
  for (const r of rows) {
    if (r.decision !== "override" || !r.ref?.startsWith("refs/heads/") || !r.new || isZeroSha(r.new) || r.landed === false) continue;
    try {
      if (repo.objectType(r.new) !== "commit") continue;
      const exclude = r.old && !isZeroSha(r.old) ? [r.old] : [];
      const commits = repo.commits([r.new], exclude, { limit: OVERRIDE_COMMITS_NAMED + 1 });
      if (commits.length === 0) continue;
      const shown = commits.slice(0, OVERRIDE_COMMITS_NAMED).map((c) => `${short(c.sha)} ${c.subject}`);
      const more = commits.length > OVERRIDE_COMMITS_NAMED ? ` and ${repo.count([r.new], exclude) - OVERRIDE_COMMITS_NAMED} more` : "";
      named.set(r.id, `brought: ${shown.join("; ")}${more}`);
    } catch {
      // A history git cannot read any more: the row says the rest.
    }
  }
  return named;
}

const refName = (ref: string): string => ref.replace(/^refs\/(heads|tags)\//, "");

/** What happened, in one word or two: "OVERRIDE", "rejected unapproved", "verdict ok". */
function what(r: AuditEntry): Cell {
  if (r.decision === "override") return { text: "OVERRIDE", style: "red" };
  if (r.decision === "rejected") return { text: `rejected ${r.code ?? ""}`.trim(), style: "yellow" };
  if (r.decision === "accepted") return { text: r.code ?? "accepted", style: "green" };
  if (r.decision === "verdict") return { text: `verdict ${r.code ?? ""}`.trim(), style: r.code === "bad" ? "red" : undefined };
  return { text: r.code && r.code !== r.decision ? `${r.decision} ${r.code}` : r.decision };
}

/** old → new as git prints it: "created 1a2b3c4", "1a2b3c4..5d6e7f8", "deleted 1a2b3c4". */
function move(r: AuditEntry): string {
  const none = (x: string | null | undefined) => !x || isZeroSha(x);
  if (none(r.old) && none(r.new)) return "";
  if (none(r.old)) return short(r.new);
  if (none(r.new)) return `deleted ${short(r.old)}`;
  return `${short(r.old)}..${short(r.new)}`;
}

function logRow(r: AuditEntry, brought?: string): Cell[] {
  const landed = r.landed === false ? " (did not land)" : "";
  // A QA note, an override's refusal, an attempt's hint: shown after the reason.
  const note =
    (r.detail && !(r.decision === "verdict" && (r.detail === "command" || r.detail.startsWith("tag "))) ? ` — ${r.detail}` : "") +
    (brought ? ` — ${brought}` : "");
  return [
    { text: ago(r.at), style: "dim" },
    { text: r.user ?? "-" },
    what(r),
    { text: r.ref ? refName(r.ref) : "" },
    { text: move(r), style: "dim" },
    { text: `${r.reason ?? ""}${landed}${note}` },
  ];
}
