import { withMirrorLock } from "../../engine/lock";
import { runMirror } from "../../engine/mirror";
import { resolveMainline } from "../../engine/revs";
import { deployState } from "../../engine/state";
import { buildStatus, type PendingCommit } from "../../engine/status";
import { keptBadNote, ticketVerdictRevisions } from "../../engine/tickets";
import { UserError } from "../../errors";
import { printable } from "../../policy/message";
import { type CombinedVerdict, isTicketId } from "../../policy/tickets";
import { isVerdict, type MainlineCommit, type Verdict, VERDICTS } from "../../policy/types";
import { type CommandContext, plainValue, requireRole } from "../context";
import { ago, renderTable, rev, short } from "../format";
import { pendingNote } from "./status";

export interface QaOptions {
  note?: string;
  /** Record on every pending revision referencing this ticket. */
  ticket?: string;
  /** qa pending: grouped by ticket. */
  byTicket?: boolean;
}

export function qaCommand(ctx: CommandContext, verdict: string, revs: string[], opts: QaOptions): number {
  const { note } = opts;
  if (verdict === "pending") {
    if (revs.length) throw new UserError("qa pending takes no revisions", 2);
    if (opts.ticket !== undefined) throw new UserError("qa pending takes no --ticket (use --by-ticket)", 2);
    return qaPending(ctx, opts.byTicket ?? false);
  }
  if (!isVerdict(verdict)) throw new UserError(`unknown verdict "${verdict}": use one of ${VERDICTS.join(", ")}, or pending`, 2);
  if (opts.byTicket) throw new UserError("--by-ticket is for qa pending", 2);
  if (opts.ticket !== undefined) {
    if (revs.length > 1)
      throw new UserError(
        "qa --ticket takes at most one revision, the newest it may record on (the one QA tried): prodgate qa ok --ticket <id> [<rev>]",
        2,
      );
    return qaByTicket(ctx, verdict, opts.ticket, note, revs[0]);
  }
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

/**
 * A verdict on every mainline revision of stable not yet in production that
 * references the ticket, as they stand when the command takes the mirror's
 * lock: the concrete revisions are recorded, so a revision that lands later
 * with the same ticket is never approved by this verdict.
 */
function qaByTicket(ctx: CommandContext, verdict: Verdict, given: string, note: string | undefined, upTo?: string): number {
  const ticket = given.replace(/^#/, "");
  if (!isTicketId(ticket)) throw new UserError(`"${printable(given)}" is not a ticket id (letters, digits, ".", "_", "-")`, 2);
  if (note !== undefined) plainValue(note, "--note");
  const user = requireRole(ctx, ["qa"], "recording a QA verdict");
  const { engine } = ctx;
  // The revision QA tried (as a ticket tag's): nothing that landed after it is taken.
  const bound = upTo === undefined ? Infinity : resolveMainline(engine, [upTo])[0]!.revno;
  let commits: MainlineCommit[] = [];
  let keptBad: MainlineCommit[] = [];
  const mirror = withMirrorLock(engine.repo.gitDir, () => {
    ({ record: commits, keptBad } = ticketVerdictRevisions(engine, deployState(engine), bound, ticket, verdict));
    if (commits.length === 0) {
      throw new UserError(
        `no revision of stable awaiting production${bound === Infinity ? "" : ` up to r${bound}`} references ticket ${ticket}; nothing was recorded (prodgate qa pending --by-ticket lists the tickets)`,
        1,
      );
    }
    engine.store.recordVerdicts(
      commits.map((c) => ({ sha: c.sha, verdict, note: note ?? null, revno: c.revno, ticket })),
      user,
      "command",
    );
    return runMirror(engine, "qa command", user);
  });
  // A revision with other tickets is ok only when they are too: say which still hold it.
  const after = new Map(deployState(engine).walk.entries.map((e) => [e.commit.sha, e] as const));
  const heldBy = (sha: string) => {
    const byTicket = (after.get(sha)?.record as CombinedVerdict | undefined)?.byTicket ?? [];
    return byTicket.filter((t) => t.ticket !== ticket && t.verdict !== verdict);
  };
  if (ctx.json) {
    const recorded = commits.map((c) => ({ sha: c.sha, revno: c.revno, verdict, ticket, otherTickets: heldBy(c.sha) }));
    const stayBad = keptBad.map((c) => ({ sha: c.sha, revno: c.revno }));
    ctx.print(JSON.stringify({ ticket, recorded, stayBad, mirror }, null, 2));
  } else {
    // With each author: anyone may name a ticket in a message, so QA sees whose revisions the verdict took.
    const authored = authorsAndDates(
      ctx,
      commits.map((c) => c.sha),
    );
    ctx.print(`ticket ${ticket}: ${verdict} recorded on ${commits.length} revision(s):`);
    for (const c of commits) {
      ctx.print(`  ${verdict}: ${rev(c)}${authored.has(c.sha) ? `  (${printable(authored.get(c.sha)!.author)})` : ""}`);
      const others = heldBy(c.sha);
      if (others.length)
        ctx.print(`      it also references ${others.map((t) => `ticket ${printable(t.ticket)} (${t.verdict})`).join(", ")}`);
    }
    if (keptBad.length) {
      for (const c of keptBad) ctx.print(`  bad: ${rev(c)}`);
      ctx.print(`  ${keptBadNote(keptBad)}`);
    }
    ctx.print(mirror.line);
  }
  return mirror.outcome === "conflict" ? 1 : 0;
}

/** Pending revisions by ticket, in order of each ticket's oldest pending revision; those with none last. */
export function groupByTicket(pending: readonly PendingCommit[]): { ticket: string | null; revisions: PendingCommit[] }[] {
  const groups = new Map<string | null, PendingCommit[]>();
  for (const p of pending) {
    const tickets = p.tickets?.length ? p.tickets : [null];
    for (const t of tickets) groups.set(t, [...(groups.get(t) ?? []), p]);
  }
  const none = groups.get(null);
  groups.delete(null);
  return [...[...groups].map(([ticket, revisions]) => ({ ticket, revisions })), ...(none ? [{ ticket: null, revisions: none }] : [])];
}

function qaPending(ctx: CommandContext, byTicket: boolean): number {
  const status = buildStatus(ctx.engine);
  const { pending } = status;
  const authored = authorsAndDates(
    ctx,
    pending.map((p) => p.sha),
  );
  if (byTicket) {
    const groups = groupByTicket(pending);
    if (ctx.json) {
      ctx.print(
        JSON.stringify(
          groups.map((g) => ({ ticket: g.ticket, url: ticketLink(ctx, g.ticket), revisions: g.revisions })),
          null,
          2,
        ),
      );
      return 0;
    }
    if (groups.length === 0) ctx.print("nothing awaits QA");
    for (const g of groups) {
      const link = ticketLink(ctx, g.ticket);
      ctx.print(g.ticket === null ? "no ticket:" : `ticket ${g.ticket}${link ? `  ${link}` : ""}:`);
      for (const p of g.revisions) ctx.print(`  ${rev(p)}  ${authored.get(p.sha)?.author ?? ""}${pendingNote(p)}`);
    }
    return 0;
  }
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

/** The configured link for a ticket, or null. */
export function ticketLink(ctx: Pick<CommandContext, "engine">, ticket: string | null): string | null {
  const url = ctx.engine.config.ticketUrl;
  return ticket === null || !url ? null : url.replaceAll("{id}", encodeURIComponent(ticket));
}
