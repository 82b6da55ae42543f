import { rolesOf } from "../../config";
import { deployedOn } from "../../ops/engine";
import { FactGatherer } from "../../engine/facts";
import { currentFreeze } from "../../engine/mirror";
import { resolveCommitSpec } from "../../engine/revs";
import { deployState } from "../../engine/state";
import { decide } from "../../policy/decide";
import { formatRejection } from "../../policy/message";
import { branchRef, classifyRef } from "../../policy/refs";
import { parseRevSpec } from "../../policy/revspec";
import { type CommandContext } from "../context";
import { describeVerdict, rev, short } from "../format";
import { pendingCommit } from "../../engine/status";
import { listOverrides, unjudgedOverrideOf } from "../../engine/overrides";
import { printable } from "../../policy/message";
import { ticketRefs } from "../../policy/tickets";
import { ticketLink } from "./qa";

/** Why a revision is or is not deployable, and what a push of it would get. Changes nothing. */
export function explainCommand(ctx: CommandContext, revText: string): number {
  const { engine } = ctx;
  const { repo, config, store } = engine;
  const sha = resolveCommitSpec(engine, parseRevSpec(revText));
  const state = deployState(engine);
  const commit = repo.commit(sha)!;
  const entry = state.walk.entries.find((e) => e.commit.sha === sha);
  const d = state.walk.deployable;
  const prod = state.tips.productionStable;
  const inProduction = !!prod && repo.isAncestor(sha, prod);
  const onStable = !!state.tips.stable && repo.onMainline(sha, state.tips.stable);
  const revno = entry?.commit.revno ?? (onStable ? repo.revno(sha) : undefined);
  const freeze = currentFreeze(engine);
  const lastRun = store.lastMirrorRun();

  // The same answer a push of it would get: a candidate of the walk, or at/behind the base.
  const candidate = state.walk.candidates.some((c) => c.sha === sha);
  let deployable = false;
  let why: string;
  let stoppedBy: { sha: string; revno: number; subject: string; reason: string } | null = null;
  // Break-glass content is in production without approval: it is not "deployable" until QA has judged it.
  const override = inProduction ? unjudgedOverrideOf(listOverrides(engine, state.tips), sha) : null;
  if (override) {
    const o = override.record;
    const who = `${o.user ?? "(unknown)"}'s override #${o.id} (${o.why})`;
    why =
      override.commit.verdict === "bad"
        ? `in production-stable by ${who}, and QA found it bad`
        : `in production-stable only by ${who}, not yet judged by QA`;
  } else if (inProduction) {
    deployable = true;
    why = "already in production-stable";
  } else if (!onStable) {
    why = `not a mainline commit of ${config.branches.stable}`;
  } else if (!entry) {
    deployable = true;
    why = "at or behind the baseline";
  } else if (candidate) {
    deployable = true;
    why = d?.sha === sha ? "it is the deployable revision" : "approved: it and every revision before it are ok or untestable";
  } else {
    const b = state.walk.blocker;
    const bad = state.walk.entries.find(
      (e) => e.verdict === "bad" && e.rolledBackBy && e.commit.revno <= entry.commit.revno && e.rolledBackBy.revno > entry.commit.revno,
    );
    if (b && b.commit.revno <= entry.commit.revno) {
      stoppedBy = { sha: b.commit.sha, revno: b.commit.revno, subject: b.commit.subject, reason: b.reason };
      why = b.reason === "bad" ? `r${b.commit.revno} is bad and no later revision rolls it back` : `r${b.commit.revno} awaits a QA verdict`;
    } else if (bad) {
      why =
        bad.commit.sha === sha
          ? `it is bad; it only goes out together with its rollback r${bad.rolledBackBy!.revno}`
          : `r${bad.commit.revno} is bad; it only goes out together with its rollback r${bad.rolledBackBy!.revno}`;
      stoppedBy = { sha: bad.commit.sha, revno: bad.commit.revno, subject: bad.commit.subject, reason: "bad" };
    } else if (entry.source === "incremental" && entry.qaWith?.length) {
      // QA tried the landing, never the partial state before it (policy/deployable.ts).
      why = `[incr]: it only goes out together with ${entry.qaWith.map((c) => `r${c.revno}`).join(", ")}, the landing it is QA'd with`;
    } else {
      why = `it is ${entry.verdict}`;
    }
  }
  const notes: string[] = [];
  if (deployable && !inProduction && freeze) notes.push(`production-stable is frozen by ${freeze.by}: ${freeze.reason}`);
  if (deployable && !inProduction && lastRun?.outcome === "conflict")
    notes.push(`the last mirror run hit a merge conflict: ${lastRun.detail?.split("\n").join(", ")}`);

  // What a push of this revision to production-stable would get, decided by the hook's own code.
  const ref = branchRef(config.branches.productionStable);
  const zero = "0".repeat(sha.length);
  const roles = rolesOf(config, ctx.user);
  const facts = new FactGatherer(engine, null, state).gather(
    { ref, old: prod ?? zero, new: sha },
    classifyRef(ref, config.branches, config.governed),
  );
  const decision = decide(facts, {
    user: ctx.user,
    roles,
    overrideReason: null,
    requireCi: config.requireCi,
    stableWriters: config.stableWriters,
    freeze,
  });
  // Approved, but it would drop a security fix's change: the mirror holds before it.
  if (candidate && !inProduction && decision.code === "drops-fix") {
    deployable = false;
    why = `${decision.reason}; the mirror holds before it`;
  } else if (candidate && !inProduction && lastRun?.detail?.startsWith(`r${revno} ${short(sha)} drops`)) {
    notes.push(`the last mirror run held before it: ${lastRun.detail}`);
  }

  const tickets = (entry?.tickets ?? ticketRefs(commit.message, config.ticketPatterns)).map((id) => ({ id, url: ticketLink(ctx, id) }));
  const report = {
    rev: { sha, revno: revno ?? null, subject: commit.subject },
    tickets,
    qaWith: entry?.qaWith ? entry.qaWith.map((c) => ({ sha: c.sha, revno: c.revno })) : null,
    verdict: entry ? verdictOf(pendingCommit(entry, state.tickets)) : null,
    onStable,
    inProduction,
    deployable,
    why,
    stoppedBy,
    override: override
      ? {
          id: override.record.id,
          user: override.record.user,
          at: override.record.at,
          why: override.record.why,
          verdict: override.commit.verdict,
        }
      : null,
    frozen: freeze,
    notes,
    push: { accepted: decision.accepted, code: decision.code, reason: decision.reason, as: ctx.user },
    deployedOn: deployedOn(engine, sha),
  };
  if (ctx.json) {
    ctx.print(JSON.stringify(report, null, 2));
  } else {
    // The answer first, then what it rests on, then what a push would get.
    ctx.print(`deployable: ${deployable ? "yes" : "no"} — ${printable(why)}`);
    ctx.print(`${rev({ sha, revno, subject: commit.subject })}`);
    if (tickets.length) ctx.print(`tickets: ${tickets.map((t) => (t.url ? `${printable(t.id)} ${t.url}` : printable(t.id))).join(", ")}`);
    if (entry) ctx.print(`verdict: ${describeVerdict(pendingCommit(entry, state.tickets))}`);
    else if (override) ctx.print(`verdict: ${override.commit.verdict} (see prodgate overrides)`);
    if (stoppedBy) ctx.print(`stopped by: ${rev(stoppedBy)} (${stoppedBy.reason})`);
    for (const n of notes) ctx.print(`note: ${n}`);
    ctx.print(
      report.deployedOn.length
        ? `deployed on: ${report.deployedOn.map((d) => `${d.target} (${short(d.sha)})`).join(", ")}`
        : "deployed on: no target recorded",
    );
    const push = `a push of it to ${config.branches.productionStable} by ${ctx.user}`;
    if (inProduction) ctx.print(`${push}: nothing to do, ${config.branches.productionStable} already holds it`);
    else if (decision.accepted) ctx.print(`${push}: accepted [${decision.code}]: ${decision.reason}`);
    else if (deployable)
      // The answer is yes: the refusal of a hand-made push is a footnote, in one line.
      ctx.print(
        `${push}: refused [${decision.code}]: ${decision.reason}${decision.code === "non-fast-forward" ? " (the mirror merges it in: prodgate sync)" : ""}`,
      );
    else ctx.print([`${push} would be:`, ...formatRejection(decision)].join("\n"));
  }
  return 0;
}

function verdictOf(p: ReturnType<typeof pendingCommit>) {
  return { value: p.verdict, source: p.source, by: p.by, markerBy: p.markerBy, markerRole: p.markerRole, markerIgnored: p.markerIgnored };
}
