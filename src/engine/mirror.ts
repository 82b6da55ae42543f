import { parseMergeTreeConflicts } from "../git/parse";
import { branchRef } from "../policy/refs";
import { shortSha, type MainlineCommit } from "../policy/types";
import { now } from "../store/store";
import { faultPoint } from "./fault";
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

const rev = (c: MainlineCommit) => `r${c.revno} ${shortSha(c.sha)}`;

/** Finish runs left 'running' by a killed mirror: the ref either moved or it did not. */
function recoverUnfinished(engine: Engine): void {
  const { store, repo } = engine;
  const runs = store.unfinishedMirrorRuns();
  if (runs.length === 0) return;
  const prod = branchTips(engine).productionStable;
  for (const run of runs) {
    const landed = !!prod && !!run.toSha && repo.isAncestor(run.toSha, prod);
    // The killed mirror may have moved production-stable without production-devel.
    if (landed) advanceProductionDevel(engine, prod);
    store.finishMirrorRun(
      run.id,
      landed ? "moved" : "abandoned",
      landed ? "recovered after the mirror was interrupted" : "interrupted before production-stable moved",
      null,
      landed
        ? {
            at: now(),
            user: "prodgate",
            ref: branchRef(engine.config.branches.productionStable),
            old: run.fromSha,
            new: run.toSha,
            decision: "mirror",
            code: "moved",
            reason: "recovered: an interrupted mirror had moved production-stable",
          }
        : null,
    );
  }
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
        ? { at: now(), user: user ?? "prodgate", ref: prodRef, old: prod, new: to, decision: "mirror", code: outcome, reason: line, detail }
        : null;
    store.finishMirrorRun(id, outcome, detail, to, audit);
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

  let target = d.sha;
  let outcome: MirrorOutcomeKind = "moved";
  // production-stable on stable's mainline, just before the segment, is an ancestor of d.
  const prodBelow = !!prod && inSegment && state.base?.sha === prod;
  if (prod && !prodBelow && !repo.isAncestor(prod, d.sha)) {
    if (!repo.mergesWithoutWorktree) {
      const why = "needs a merge: production-stable holds revisions that stable lacks";
      return finish("blocked", prod, why, `production-stable cannot take ${rev(d)}: blocked: ${why}`);
    }
    const merge = repo.git.run(["merge-tree", "--write-tree", "--name-only", "--no-messages", prod, d.sha], { okStatuses: [1] });
    faultPoint("after-merge-tree");
    if (merge.status === 1) {
      const { paths } = parseMergeTreeConflicts(merge.stdout);
      return finish("conflict", prod, paths.join("\n"), `production-stable cannot take ${rev(d)}: merge conflict in ${paths.join(", ")}`);
    }
    const tree = parseMergeTreeConflicts(merge.stdout).tree;
    const message = `Mirror stable r${d.revno} (${d.sha}) into ${config.branches.productionStable}\n\nproduction-stable holds commits that stable lacks, so prodgate merged\ninstead of fast-forwarding. Deployable revision: r${d.revno} ${d.sha}.\n`;
    const robotEnv = {
      GIT_AUTHOR_NAME: config.robot.name,
      GIT_AUTHOR_EMAIL: config.robot.email,
      GIT_COMMITTER_NAME: config.robot.name,
      GIT_COMMITTER_EMAIL: config.robot.email,
    };
    target = repo.git.out(["commit-tree", tree, "-p", prod, "-p", d.sha, "-F", "-"], { input: message, env: robotEnv });
    faultPoint("after-commit-tree");
    outcome = "merged";
  }

  const runId = store.startMirrorRun({ trigger, fromSha: prod, toSha: target, deployableSha: d.sha, deployableRevno: d.revno });
  faultPoint("before-update-ref");
  if (!repo.updateRef(prodRef, target, prod ?? "", `prodgate mirror: r${d.revno}`)) {
    store.finishMirrorRun(runId, "lost-race", `${prodRef} moved while the mirror ran`, null, null);
    return "retry";
  }
  faultPoint("after-update-ref");
  advanceProductionDevel(engine, target, { prod, pdev: state.tips.productionDevel });
  const how = outcome === "merged" ? "by a merge that keeps its own commits" : "fast-forward";
  const line = `production-stable moved to ${rev(d)} (${how})`;
  faultPoint("before-db-write");
  store.finishMirrorRun(runId, outcome, null, target, {
    at: now(),
    user: user ?? "prodgate",
    ref: prodRef,
    old: prod,
    new: target,
    decision: "mirror",
    code: outcome,
    reason: line,
  });
  faultPoint("after-db-write");
  return { outcome, from: prod, to: target, deployable: d, detail: null, line };
}

/**
 * production-devel follows production-stable when it holds nothing unpromoted.
 * `known` is what the mirror read before moving production-stable from `prod`:
 * a production-devel that was at `prod` is an ancestor of the new tip, which
 * saves asking git; if it moved meanwhile, it is read again.
 */
function advanceProductionDevel(engine: Engine, prodTip: string, known?: { prod: string | null; pdev: string | null }): void {
  const { repo, config } = engine;
  const ref = branchRef(config.branches.productionDevel);
  const message = "prodgate mirror: follow production-stable";
  if (known && !known.pdev) return; // there is no production-devel
  if (known?.pdev && known.pdev === known.prod && repo.updateRef(ref, prodTip, known.pdev, message)) return;
  const pdev = repo.refTips([ref]).get(ref);
  if (!pdev || pdev === prodTip || !repo.isAncestor(pdev, prodTip)) return;
  repo.updateRef(ref, prodTip, pdev, message);
}
