import { deployState } from "../../engine/state";
import { pendingCommit } from "../../engine/status";
import { ticketsOf, verdictsFor } from "../../engine/tickets";
import { UserError } from "../../errors";
import { deployedOn } from "../../ops/engine";
import { printable } from "../../policy/message";
import { branchRef } from "../../policy/refs";
import { isTicketId } from "../../policy/tickets";
import type { CommitInfo } from "../../policy/types";
import { type CommandContext } from "../context";
import { describeVerdict, rev } from "../format";
import { ticketLink } from "./qa";

export interface TicketRevision {
  sha: string;
  /** Its revno on stable's mainline; null while it is only on devel (or beside stable's mainline). */
  revno: number | null;
  subject: string;
  verdict: string;
  /** How the verdict stands, in words (who gave it, [incr], per ticket). */
  why: string;
  reached: { devel: boolean; stable: boolean; productionStable: boolean; deployed: { target: string; sha: string; at: string }[] };
}

/** Every revision referencing a ticket, its verdict, and where it has reached. Changes nothing. */
export function ticketsCommand(ctx: CommandContext, given: string): number {
  const ticket = given.replace(/^#/, "");
  if (!isTicketId(ticket)) throw new UserError(`"${printable(given)}" is not a ticket id (letters, digits, ".", "_", "-")`, 2);
  const { engine } = ctx;
  const { repo, config } = engine;
  const state = deployState(engine);
  const { tips } = state;
  const entries = new Map(state.walk.entries.map((e) => [e.commit.sha, e] as const));
  // Stable's whole mainline, then what devel holds beyond stable.
  const onStable = tips.stable ? repo.mainline(tips.stable, []).segment : [];
  const onDevelOnly: CommitInfo[] = tips.devel ? repo.commits([tips.devel], tips.stable ? [tips.stable] : []).reverse() : [];
  const all: CommitInfo[] = [...onStable, ...onDevelOnly];
  const refs = ticketsOf(config, all);
  const found = all.filter((c) => refs.get(c.sha)!.includes(ticket));
  const done = verdictsFor(
    engine,
    found.filter((c) => !entries.has(c.sha)),
    refs,
  );
  const develRef = branchRef(config.branches.devel);
  const revisions: TicketRevision[] = found.map((c) => {
    const entry = entries.get(c.sha);
    const stable = c.revno !== undefined;
    const inProduction = !!tips.productionStable && stable && !entry && repo.isAncestor(c.sha, tips.productionStable);
    let verdict: string;
    let why: string;
    if (entry) {
      const p = pendingCommit(entry, state.tickets);
      verdict = p.verdict;
      why = describeVerdict(p);
    } else if (stable) {
      const record = done.get(c.sha);
      verdict = record?.verdict ?? (inProduction ? "in production" : "baseline");
      why = record
        ? `${record.verdict} by QA (${printable(record.user)})`
        : inProduction
          ? "went out without a verdict of its own"
          : "at or behind the baseline";
    } else {
      verdict = "not on stable";
      why = `on ${config.branches.devel} only`;
    }
    return {
      sha: c.sha,
      revno: c.revno ?? null,
      subject: c.subject,
      verdict,
      why,
      reached: {
        devel: stable ? !!tips.devel && repo.isAncestorOfRef(c.sha, develRef) : true,
        stable,
        productionStable: inProduction,
        deployed: stable ? deployedOn(engine, c.sha) : [],
      },
    };
  });
  const history = engine.store
    .ticketVerdicts(ticket)
    .map((v) => ({ sha: v.sha, verdict: v.verdict, user: v.user, at: v.at, note: v.note ?? null }));
  const url = ticketLink(ctx, ticket);
  if (ctx.json) {
    ctx.print(JSON.stringify({ ticket, url, revisions, verdicts: history }, null, 2));
  } else if (revisions.length === 0) {
    ctx.print(`no revision of ${config.branches.devel} or ${config.branches.stable} references ticket ${ticket}`);
  } else {
    ctx.print(`ticket ${ticket}${url ? `  ${url}` : ""}`);
    for (const r of revisions) {
      const where = [
        r.reached.stable ? config.branches.stable : config.branches.devel,
        ...(r.reached.productionStable ? [config.branches.productionStable] : []),
        ...(r.reached.deployed.length ? [`deployed on ${r.reached.deployed.map((d) => d.target).join(", ")}`] : []),
      ];
      ctx.print(`  ${rev({ sha: r.sha, revno: r.revno ?? undefined, subject: r.subject })}`);
      ctx.print(`      ${r.why}; reached: ${where.join(", ")}`);
    }
    if (history.length) {
      ctx.print("verdicts given through this ticket:");
      const revnoOf = new Map(revisions.map((r) => [r.sha, r.revno] as const));
      for (const v of history) {
        const n = revnoOf.get(v.sha);
        ctx.print(
          `  ${v.at}  ${printable(v.user)}  ${v.verdict}  ${n ? `r${n}` : v.sha.slice(0, 7)}${v.note ? `  (${printable(v.note)})` : ""}`,
        );
      }
    }
  }
  return revisions.length === 0 ? 1 : 0;
}
