import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseMergeTreeConflicts } from "../git/parse";
import { branchRef } from "../policy/refs";
import { shortSha, type MainlineCommit } from "../policy/types";
import type { AuditRow, Store } from "../store/store";
import { MOVED_REVISIONS_LIMIT, movedEvent, movedRevisions } from "../events/build";
import type { EventDraft } from "../events/types";
import { UserError } from "../errors";
import { describeDropped } from "../policy/fixes";
import { faultPoint } from "./fault";
import { fixesAtTip, requiredFixes } from "./held";
import { withMirrorLock } from "./lock";
import { branchTips, deployState, type Engine } from "./state";

export type MirrorOutcomeKind = "moved" | "merged" | "up-to-date" | "frozen" | "conflict" | "blocked" | "nothing-deployable";

export interface MirrorOutcome {
  outcome: MirrorOutcomeKind;
  from: string | null;
  to: string | null;
  deployable: MainlineCommit | null;
  /** Conflicting paths, freeze reason, or what stops the walk. */
  detail: string | null;
  /** One line for the pusher or the operator. */
  line: string;
}

export interface Freeze {
  by: string;
  at: string;
  reason: string;
}

export function currentFreeze(engine: Engine): Freeze | null {
  const raw = engine.store.getSetting("freeze");
  return raw ? (JSON.parse(raw) as Freeze) : null;
}

/** How every reflog entry of a mirror move begins. */
const MIRROR_MESSAGE = "prodgate mirror:";

const rev = (c: MainlineCommit) => `r${c.revno} ${shortSha(c.sha)}`;

/** How many approved revisions before the deployable one the mirror tries when newer ones drop a security fix. */
export const MAX_HOLD_CHECKS = 8;

/** What production-stable's reflog, when the repository keeps one, says about a move from `from` to `to`. */
function reflogShows(engine: Engine, ref: string, from: string | null, to: string): boolean | null {
  let text: string;
  try {
    text = readFileSync(join(engine.repo.gitDir, "logs", ref), "utf8");
  } catch {
    return null; // no reflog: the refs alone must prove it
  }
  const old = from ?? "0".repeat(to.length);
  return text.split("\n").some((line) => {
    const [head, message] = line.split("\t");
    const [o, n] = (head ?? "").split(" ");
    return o === old && n === to && (message ?? "").startsWith(MIRROR_MESSAGE);
  });
}

/**
 * Finish runs left 'running' by a killed mirror. A row of the move is written
 * only when the refs (and the reflog, where the repository keeps one) prove
 * that the interrupted mirror made it: production-stable is at the run's
 * target, which no accepted push named, or the reflog has the mirror's entry.
 * A run that cannot have moved anything is 'abandoned'; one whose fate the
 * refs cannot tell is 'unknown', and its row says what is known.
 */
function recoverUnfinished(engine: Engine): void {
  const { store, config } = engine;
  const runs = store.unfinishedMirrorRuns();
  if (runs.length === 0) return;
  const prodRef = branchRef(config.branches.productionStable);
  const prod = branchTips(engine).productionStable;
  const failures: UserError[] = [];
  for (const run of runs) {
    const to = run.toSha;
    const code = to && run.deployableSha && to !== run.deployableSha ? "merged" : "moved";
    let proven: boolean | null;
    if (!to || to === run.fromSha)
      proven = false; // it had nothing to move
    else {
      const reflog = reflogShows(engine, prodRef, run.fromSha, to);
      if (reflog !== null) proven = reflog;
      else if (prod === to || store.rowFrom(prodRef, to)) {
        // production-stable was at the run's target (now, or when a later change of it was decided):
        // the mirror put it there unless an accepted push of the same tip landed.
        const pushes = store.acceptedUpdates(prodRef, to);
        if (pushes === "none") proven = true;
        else if (pushes.includes(true)) proven = false;
        else proven = pushes.every((landed) => landed === false) ? true : null;
      } else if (prod === run.fromSha) proven = false;
      else proven = null;
    }
    if (proven) {
      // The killed mirror may have moved production-stable without production-devel.
      const { follow, failure } = prod && prod === to ? followProduction(engine, prod, "prodgate") : { follow: null, failure: null };
      if (failure) failures.push(failure);
      // Its event was to be written with its row: written now, from what git holds.
      const brought = engine.repo.mainlineNewest(run.deployableSha ?? to!, run.fromSha ? [run.fromSha] : [], MOVED_REVISIONS_LIMIT);
      const moved = movedEvent("prodgate", {
        from: run.fromSha,
        to: to!,
        revno: run.deployableRevno,
        how: code === "merged" ? "merge" : "fast-forward",
        revisions: movedRevisions(engine, brought),
        fixes: [],
      });
      store.finishMirrorRun(
        run.id,
        code,
        "recovered after the mirror was interrupted",
        null,
        {
          user: "prodgate",
          ref: prodRef,
          old: run.fromSha,
          new: to,
          decision: "mirror",
          code,
          reason: `recovered: an interrupted mirror had ${code === "merged" ? "merged into" : "moved"} production-stable`,
        },
        [moved],
      );
      if (follow) store.audit([follow]);
    } else if (proven === false) {
      store.finishMirrorRun(run.id, "abandoned", "interrupted before production-stable moved", null, null);
    } else {
      const known = `it was at ${shortSha(run.fromSha ?? "")}, the mirror meant to move it to ${shortSha(to ?? "")}, and it is now at ${shortSha(prod ?? "")}`;
      store.finishMirrorRun(run.id, "unknown", known, null, {
        user: "prodgate",
        ref: prodRef,
        old: run.fromSha,
        new: to,
        decision: "mirror",
        code: "unknown",
        reason: `an interrupted mirror's move of production-stable cannot be proved or ruled out: ${known}`,
      });
    }
  }
  // Every run is settled: now say why production-devel could not follow.
  if (failures[0]) throw failures[0];
}

/**
 * Move production-stable towards the deployable revision: fast-forward when
 * it can, else a merge made without a work tree. Every ref change is a
 * compare-and-swap; losing a race means computing again, never overwriting.
 */
export function runMirror(engine: Engine, trigger: string, user: string | null): MirrorOutcome {
  return withMirrorLock(engine.repo.gitDir, () => {
    recoverUnfinished(engine);
    for (let attempt = 0; ; attempt++) {
      const result = mirrorOnce(engine, trigger, user);
      if (result !== "retry") return result;
      if (attempt >= 10) throw new Error("production-stable kept changing under the mirror; try prodgate sync again");
    }
  });
}

function mirrorOnce(engine: Engine, trigger: string, user: string | null): MirrorOutcome | "retry" {
  const { repo, store, config } = engine;
  const state = deployState(engine);
  const prodRef = branchRef(config.branches.productionStable);
  const prod = state.tips.productionStable;
  const d = state.walk.deployable;
  const blocker = state.walk.blocker;
  const stops = blocker ? `; r${blocker.commit.revno} ${shortSha(blocker.commit.sha)} is ${blocker.reason}` : "";

  const finish = (outcome: MirrorOutcomeKind, to: string | null, detail: string | null, line: string): MirrorOutcome => {
    // Started and finished in one transaction: a run that moved nothing is never left 'running'.
    store.write(() => {
      const previous = store.lastMirrorRun();
      const id = store.startMirrorRun({
        trigger,
        fromSha: prod,
        toSha: to,
        deployableSha: d?.sha ?? null,
        deployableRevno: d?.revno ?? null,
      });
      // Repeated identical outcomes (a cron sync finding nothing to do) are kept in
      // the run history but not repeated in the audit log.
      const changed = !previous || previous.outcome !== outcome || previous.deployableSha !== (d?.sha ?? null) || previous.fromSha !== prod;
      const audit =
        outcome === "moved" || outcome === "merged" || changed
          ? { user: user ?? "prodgate", ref: prodRef, old: prod, new: to, decision: "mirror", code: outcome, reason: line, detail }
          : null;
      store.finishMirrorRun(
        id,
        outcome,
        detail,
        to,
        audit,
        blockEvents(previous?.outcome ?? null, outcome, previous?.deployableSha ?? null, d, detail, user),
      );
    });
    return { outcome, from: prod, to, deployable: d, detail, line };
  };

  if (!d) return finish("nothing-deployable", prod, null, `nothing on stable is deployable yet${stops}`);
  // The segment holds only commits production-stable lacks: a deployable
  // revision from it is never already in production (no git process needed).
  const inSegment = state.segment.some((c) => c.sha === d.sha);
  if (prod && (prod === d.sha || (!inSegment && repo.isAncestor(d.sha, prod)))) {
    return finish("up-to-date", prod, null, `production-stable already contains the deployable revision ${rev(d)}${stops}`);
  }
  const freeze = currentFreeze(engine);
  if (freeze) {
    return finish(
      "frozen",
      prod,
      freeze.reason,
      `production-stable is frozen by ${freeze.by} (${freeze.reason}); deployable ${rev(d)} waits for thaw`,
    );
  }

  // production-stable on stable's mainline, just before the segment, is on d's first-parent chain.
  const prodBelow = !!prod && inSegment && state.base?.sha === prod;
  // A fast-forward only when production-stable's tip stays on the new tip's first-parent chain
  // (invariant 2): a tip that stable merged as a second parent (a promoted fix merged back) is
  // kept first by a merge instead. Bazaar's mirror cannot merge, so there ancestry is enough.
  const fastForward = (p: string, c: string) => (repo.mergesWithoutWorktree ? repo.onMainline(p, c) : repo.isAncestor(p, c));
  /** How production-stable takes revision `c`: its new tip, or why it cannot. */
  const planMove = (c: MainlineCommit): { target: string; outcome: MirrorOutcomeKind } | { blocked: string } | { conflict: string[] } => {
    // Every earlier candidate is in the segment too, so prodBelow holds for it as for d.
    if (!prod || prodBelow || fastForward(prod, c.sha)) return { target: c.sha, outcome: "moved" };
    if (!repo.mergesWithoutWorktree) return { blocked: "needs a merge: production-stable holds revisions that stable lacks" };
    const merge = repo.git.run(["merge-tree", "--write-tree", "--name-only", "--no-messages", prod, c.sha], { okStatuses: [1] });
    faultPoint("after-merge-tree");
    if (merge.status === 1) return { conflict: parseMergeTreeConflicts(merge.stdout).paths };
    const tree = parseMergeTreeConflicts(merge.stdout).tree;
    const message = `Mirror stable r${c.revno} (${c.sha}) into ${config.branches.productionStable}\n\nproduction-stable holds commits that stable lacks, so prodgate merged\ninstead of fast-forwarding. Deployable revision: r${c.revno} ${c.sha}.\n`;
    const robotEnv = {
      GIT_AUTHOR_NAME: config.robot.name,
      GIT_AUTHOR_EMAIL: config.robot.email,
      GIT_COMMITTER_NAME: config.robot.name,
      GIT_COMMITTER_EMAIL: config.robot.email,
    };
    const target = repo.git.out(["commit-tree", tree, "-p", prod, "-p", c.sha, "-F", "-"], { input: message, env: robotEnv });
    faultPoint("after-commit-tree");
    return { target, outcome: "merged" };
  };

  // Every move keeps every security fix's change: when the deployable revision would drop one, the
  // newest earlier approved revision that keeps them all is taken instead (at most MAX_HOLD_CHECKS
  // of them are tried), and the mirror says which revision it holds before and why.
  let fixes = requiredFixes(engine);
  const learnt = new Map<string, string[] | "absent">();
  const earlier = state.walk.candidates.filter((c) => c.sha !== d.sha).reverse();
  let hold: string | null = null;
  let chosen: { c: MainlineCommit; target: string; outcome: MirrorOutcomeKind; held: string[] } | null = null;
  for (const c of [d, ...earlier.slice(0, MAX_HOLD_CHECKS)]) {
    const plan = planMove(c);
    if ("blocked" in plan) {
      if (c === d) return finish("blocked", prod, plan.blocked, `production-stable cannot take ${rev(d)}: blocked: ${plan.blocked}`);
      break;
    }
    if ("conflict" in plan) {
      const paths = plan.conflict;
      if (c === d)
        return finish("conflict", prod, paths.join("\n"), `production-stable cannot take ${rev(d)}: merge conflict in ${paths.join(", ")}`);
      break; // an earlier revision that does not merge either: hold where it is
    }
    const at = fixesAtTip(engine, plan.target, fixes);
    if (at.learnt.size > 0) {
      for (const [sha, p] of at.learnt) learnt.set(sha, p);
      fixes = fixes.map((f) => (at.learnt.has(f.sha) ? { ...f, paths: at.learnt.get(f.sha)! } : f));
    }
    if (at.dropped.length === 0) {
      chosen = { c, target: plan.target, outcome: plan.outcome, held: at.held.map((f) => f.sha) };
      break;
    }
    hold ??= `r${c.revno} ${describeDropped(at.dropped, c.sha)}`;
  }
  // What a fix's commit changed never changes: asked once, kept for every later move.
  if (learnt.size > 0) store.setFixPaths(learnt);
  if (!chosen) {
    const why = `${hold}: production-stable holds before it (bring the change back on ${config.branches.stable}, or the security team retires the fix: prodgate security retire <fix> --reason <why>)`;
    return finish("blocked", prod, why, `production-stable cannot take ${rev(d)}: blocked: ${why}`);
  }
  const { c, target, outcome } = chosen;

  const refused = moveRefused(engine, prod, target, c.sha, prodBelow);
  if (refused) return finish("blocked", prod, refused, `production-stable cannot take ${rev(c)}: blocked: ${refused}`);
  // The run names the revision it deploys (an earlier one than d when d drops a fix), so recovery reads a fast-forward as one.
  const runId = store.startMirrorRun({ trigger, fromSha: prod, toSha: target, deployableSha: c.sha, deployableRevno: c.revno });
  faultPoint("before-update-ref");
  // Repo.updateRef keeps a reflog of production-stable, so recovery can prove which moves were the mirror's.
  if (!repo.updateRef(prodRef, target, prod ?? "", `${MIRROR_MESSAGE} r${c.revno}`)) {
    store.finishMirrorRun(runId, "lost-race", `${prodRef} moved while the mirror ran`, null, null);
    return "retry";
  }
  faultPoint("after-update-ref");
  const { follow, failure } = followProduction(engine, target, user ?? "prodgate", { prod, pdev: state.tips.productionDevel });
  const how = outcome === "merged" ? "by a merge that keeps its own commits" : "fast-forward";
  const line = `production-stable moved to ${rev(c)} (${how})${hold ? `; it holds there: ${hold}` : ""}`;
  const brought = state.segment.slice(0, state.segment.findIndex((x) => x.sha === c.sha) + 1);
  const events = [
    ...blockEvents(lastOutcome(store), outcome, null, c, null, user),
    movedEvent(user ?? "prodgate", {
      from: prod,
      to: target,
      revno: c.revno,
      how: outcome === "merged" ? "merge" : "fast-forward",
      revisions: movedRevisions(engine, brought.slice(-MOVED_REVISIONS_LIMIT), state.walk.entries),
      revisionCount: brought.length,
      fixes: [],
    }),
  ];
  faultPoint("before-db-write");
  // One transaction: the fixes' change was verified held at the new tip (later moves measure from it), and the run.
  store.write(() => {
    store.setFixesHeldAt(chosen.held, target);
    store.finishMirrorRun(
      runId,
      outcome,
      hold,
      target,
      {
        user: user ?? "prodgate",
        ref: prodRef,
        old: prod,
        new: target,
        decision: "mirror",
        code: outcome,
        reason: line,
        detail: hold,
      },
      events,
    );
  });
  if (follow) store.audit([follow]);
  faultPoint("after-db-write");
  // production-stable's move is recorded: now say why production-devel could not follow.
  if (failure) throw failure;
  return { outcome, from: prod, to: target, deployable: d, detail: hold, line };
}

function lastOutcome(store: Store): string | null {
  return store.lastMirrorRun()?.outcome ?? null;
}

const BLOCKED = ["conflict", "blocked"];

/**
 * mirror.blocked when the mirror starts failing to take a deployable revision
 * (or fails on a new one), mirror.unblocked when it stops failing.
 */
function blockEvents(
  previous: string | null,
  outcome: string,
  previousDeployable: string | null,
  d: MainlineCommit | null,
  detail: string | null,
  user: string | null,
): EventDraft[] {
  const was = previous !== null && BLOCKED.includes(previous);
  const deployable = d ? { sha: d.sha, revno: d.revno } : null;
  if (BLOCKED.includes(outcome)) {
    if (was && previous === outcome && previousDeployable === (d?.sha ?? null)) return [];
    const files = outcome === "conflict" && detail ? detail.split("\n") : [];
    return [{ type: "mirror.blocked", actor: user ?? "prodgate", data: { deployable, why: outcome, files, detail } }];
  }
  return was ? [{ type: "mirror.unblocked", actor: user ?? "prodgate", data: { deployable, outcome } }] : [];
}

/**
 * Defence in depth, asked of git directly just before production-stable
 * moves from `prod` to `target`: the old tip must be an ancestor of the new
 * one, and the new tip must be the deployable revision `d` itself or a merge
 * whose parents are exactly the old tip and `d`. Returns why not, or null.
 * `prodBelow`: git's own listing of stable's mainline by sha, in this decision,
 * showed `prod` as the first parent of the oldest commit of the segment that
 * holds `d`, so `prod` is on `d`'s first-parent chain: asking again would
 * learn nothing (objects never change, and update-ref's compare-and-swap
 * checks that production-stable is still `prod`).
 */
function moveRefused(engine: Engine, prod: string | null, target: string, d: string, prodBelow: boolean): string | null {
  const { repo } = engine;
  if (target === d) {
    // A question of its own (not the --is-ancestor the decision asked): prod is an ancestor of d exactly when it is their merge base.
    if (prod && !prodBelow && repo.mergeBase(prod, d) !== prod) {
      return `the deployable revision ${shortSha(d)} does not contain production-stable's tip ${shortSha(prod)}`;
    }
    return null;
  }
  const parents = repo.parentsOf(target);
  if (!prod || parents.length !== 2 || parents[0] !== prod || parents[1] !== d) {
    return `the mirror's merge ${shortSha(target)} is not a merge of production-stable's tip and the deployable revision`;
  }
  return null;
}

/**
 * advanceProductionDevel, with a ref file prodgate may not write (Repo.updateRef's
 * UserError) kept aside: said once production-stable's move is recorded, never
 * leaving that move unrecorded.
 */
function followProduction(...args: Parameters<typeof advanceProductionDevel>): { follow: AuditRow | null; failure: UserError | null } {
  try {
    return { follow: advanceProductionDevel(...args), failure: null };
  } catch (err) {
    if (err instanceof UserError) return { follow: null, failure: err };
    throw err;
  }
}

/**
 * production-devel follows production-stable when it holds nothing unpromoted.
 * `known` is what the mirror read before moving production-stable from `prod`:
 * a production-devel that was at `prod` is an ancestor of the new tip, which
 * saves asking git; if it moved meanwhile, it is read again. Each move is audited.
 */
function advanceProductionDevel(
  engine: Engine,
  prodTip: string,
  user: string,
  known?: { prod: string | null; pdev: string | null },
): AuditRow | null {
  const { repo, config } = engine;
  const ref = branchRef(config.branches.productionDevel);
  const message = `${MIRROR_MESSAGE} follow production-stable`;
  const moved = (old: string): AuditRow => ({
    user,
    ref,
    old,
    new: prodTip,
    decision: "mirror",
    code: "follow",
    reason: `production-devel fast-forwarded to production-stable's tip ${shortSha(prodTip)}`,
  });
  if (known && !known.pdev) return null; // there is no production-devel
  if (known?.pdev && known.pdev === known.prod && repo.updateRef(ref, prodTip, known.pdev, message)) return moved(known.pdev);
  const pdev = repo.refTips([ref]).get(ref);
  // Only along production-stable's first-parent chain, so production-devel keeps its own.
  if (!pdev || pdev === prodTip || !repo.onMainline(pdev, prodTip)) return null;
  return repo.updateRef(ref, prodTip, pdev, message) ? moved(pdev) : null;
}
