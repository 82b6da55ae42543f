import type { PendingEntry } from "../policy/deployable";
import type { CommitInfo, MainlineCommit } from "../policy/types";
import type { MirrorRun, SecurityFix } from "../store/store";
import { currentFreeze, type Freeze } from "./mirror";
import { BRANCH_KINDS, deployState, type DeployState, type Engine } from "./state";

export interface BranchTip {
  ref: string;
  sha: string;
  revno: number;
  subject: string;
}

export interface PendingCommit {
  sha: string;
  revno: number;
  subject: string;
  verdict: string;
  /** recorded (by QA) | message-tag (untestable by its message) | default */
  source: string;
  /** Who recorded the verdict (source "recorded"). */
  by: string | null;
  /** For source "message-tag": who pushed the commit, holding `markerRole`; null when everyone's markers count. */
  markerBy: string | null;
  markerRole: string | null;
  /** The message carries [no-qa]/[testfix] that does not count (untrusted pusher, or a rollback). */
  markerIgnored: boolean;
  at: string | null;
  note: string | null;
  heldForRollback: boolean;
  rolledBackBy: number | null;
}

export interface StatusReport {
  repository: string;
  branches: Record<string, BranchTip | null>;
  deployable: { sha: string; revno: number; subject: string } | null;
  blocker: { sha: string; revno: number; subject: string; reason: string } | null;
  /** Mainline commits of stable awaiting a verdict, oldest first. */
  pending: PendingCommit[];
  /** Every mainline commit of stable not yet in production-stable, oldest first, with its verdict. */
  undeployed: PendingCommit[];
  mirror: {
    outcome: string;
    at: string;
    from: string | null;
    to: string | null;
    deployableRevno: number | null;
    detail: string | null;
  } | null;
  freeze: Freeze | null;
  baseline: string | null;
  securityPending: SecurityFix[];
  /** production-stable's tree equals stable's at this revno (all fixes back). */
  inStepWithStable: number | null;
}

export function pendingCommit(e: PendingEntry): PendingCommit {
  return {
    sha: e.commit.sha,
    revno: e.commit.revno,
    subject: e.commit.subject,
    verdict: e.verdict,
    source: e.source,
    by: e.source === "recorded" ? (e.record?.user ?? null) : null,
    markerBy: e.vouchedBy?.user ?? null,
    markerRole: e.vouchedBy?.role ?? null,
    markerIgnored: e.markerIgnored ?? false,
    at: e.record?.at ?? null,
    note: e.record?.note ?? null,
    heldForRollback: e.heldForRollback ?? false,
    rolledBackBy: e.rolledBackBy?.revno ?? null,
  };
}

const brief = (c: CommitInfo & { revno: number }) => ({ sha: c.sha, revno: c.revno, subject: c.subject });

function mirrorSummary(run: MirrorRun | null): StatusReport["mirror"] {
  if (!run) return null;
  return {
    outcome: run.outcome,
    at: run.finishedAt ?? run.startedAt,
    from: run.fromSha,
    to: run.toSha,
    deployableRevno: run.deployableRevno,
    detail: run.detail,
  };
}

export function buildStatus(engine: Engine, state: DeployState = deployState(engine)): StatusReport {
  const { repo, store, config } = engine;
  const branches: Record<string, BranchTip | null> = {};
  const tipCommits = new Map(
    repo.commitsNoWalk(BRANCH_KINDS.map((k) => state.tips[k]).filter((x): x is string => !!x)).map((c) => [c.sha, c] as const),
  );
  for (const kind of BRANCH_KINDS) {
    const sha = state.tips[kind];
    const name = config.branches[kind];
    if (!sha) {
      branches[name] = null;
      continue;
    }
    const commit = tipCommits.get(sha) ?? repo.commit(sha)!;
    branches[name] = { ref: `refs/heads/${name}`, sha, revno: repo.revno(sha), subject: commit.subject };
  }
  const d: MainlineCommit | null = state.walk.deployable;
  const blocker = state.walk.blocker;
  const securityPending = store.fixes().filter((f) => !f.devel || !f.stable);
  let inStepWithStable: number | null = null;
  if (state.tips.productionStable && state.tips.stable && securityPending.length === 0) {
    if (repo.sameTree(state.tips.productionStable, state.tips.stable)) inStepWithStable = branches[config.branches.stable]!.revno;
  }
  const undeployed = state.walk.entries.map(pendingCommit);
  return {
    repository: repo.gitDir,
    branches,
    deployable: d ? brief(d) : null,
    blocker: blocker ? { ...brief(blocker.commit), reason: blocker.reason } : null,
    pending: undeployed.filter((p) => p.verdict === "needstesting"),
    undeployed,
    mirror: mirrorSummary(store.lastMirrorRun()),
    freeze: currentFreeze(engine),
    baseline: state.baseline,
    securityPending,
    inStepWithStable,
  };
}
