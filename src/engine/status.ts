import type { PendingEntry } from "../policy/deployable";
import { type CombinedVerdict, type TicketLookup, ticketRefs } from "../policy/tickets";
import type { CommitInfo, MainlineCommit } from "../policy/types";
import type { MirrorRun, SecurityFix } from "../store/store";
import { currentFreeze, type Freeze } from "./mirror";
import { listOverrides, pendingOverrides, type OverrideRecord } from "./overrides";
import { BRANCH_KINDS, deployState, type DeployState, type Engine } from "./state";

export interface BranchTip {
  ref: string;
  sha: string;
  /** Its position on its own first-parent chain; for the production branches read `holds` instead. */
  revno: number;
  subject: string;
  /** For production-stable and production-devel: what they hold, counted in stable's revisions. */
  holds?: Holdings;
}

/** What a production branch holds: the newest mainline revision of stable in it, and what else. */
export interface Holdings {
  stable: { sha: string; revno: number } | null;
  /** Recorded security fixes it holds that stable does not. */
  securityFixes: number;
  /** Other commits (not merges) it holds that stable does not. */
  otherCommits: number;
  /** "stable r22 + 2 security fixes" */
  text: string;
}

export interface PendingCommit {
  sha: string;
  revno: number;
  subject: string;
  verdict: string;
  /** recorded (by QA) | message-tag (untestable by its message) | incremental ([incr], QA'd with a later landing) | default */
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
  /** The tickets its message references (prodgate.tickets.pattern). */
  tickets?: string[];
  /** Its [incr] marker counts: the revnos of the later landings it is QA'd with (empty: none yet, it waits); else null. */
  qaWith?: number[] | null;
  /** The message carries [incr] that does not count (untrusted pusher, or a rollback). */
  incrIgnored?: boolean;
  /** Per ticket, the verdict standing for it, when some verdict came through a ticket. */
  byTicket?: { ticket: string; verdict: string }[];
  /** Set when the commit reached production-stable by a break-glass override and still awaits a verdict. */
  override?: { id: number; user: string | null; at: string; why: string };
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
  /** Break-glass overrides of production-stable whose content still awaits a verdict, or holds a bad revision (prodgate overrides). */
  overridesPending: OverrideRecord[];
  /** production-stable's tree equals stable's at this revno (all fixes back). */
  inStepWithStable: number | null;
}

/** `tickets`: the commits' tickets where the walk's entry has none (DeployState.tickets). */
export function pendingCommit(e: PendingEntry, tickets?: TicketLookup): PendingCommit {
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
    tickets: [...(e.tickets ?? tickets?.get(e.commit.sha) ?? [])],
    qaWith: e.qaWith ? e.qaWith.map((c) => c.revno) : null,
    incrIgnored: e.incrIgnored ?? false,
    ...(e.record && "byTicket" in e.record ? { byTicket: (e.record as CombinedVerdict).byTicket } : {}),
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
    if (kind === "productionStable" || kind === "productionDevel")
      // deployState already asked git for stable's mainline not in production-stable (nor the baseline).
      branches[name]!.holds = holdings(
        engine,
        sha,
        state.tips.stable,
        sha === state.tips.productionStable ? { segment: state.segment, boundary: state.base } : undefined,
      );
  }
  const d: MainlineCommit | null = state.walk.deployable;
  const blocker = state.walk.blocker;
  const securityPending = store.fixes().filter((f) => !f.devel || !f.stable);
  let inStepWithStable: number | null = null;
  if (state.tips.productionStable && state.tips.stable && securityPending.length === 0) {
    if (repo.sameTree(state.tips.productionStable, state.tips.stable)) inStepWithStable = branches[config.branches.stable]!.revno;
  }
  const undeployed = state.walk.entries.map((e) => pendingCommit(e, state.tickets));
  const overridesPending = pendingOverrides(listOverrides(engine, state.tips));
  return {
    repository: repo.gitDir,
    branches,
    deployable: d ? brief(d) : null,
    blocker: blocker ? { ...brief(blocker.commit), reason: blocker.reason } : null,
    pending: [
      ...overrideContentAwaitingQa(engine, overridesPending, undeployed),
      ...undeployed.filter((p) => p.verdict === "needstesting"),
    ],
    undeployed,
    mirror: mirrorSummary(store.lastMirrorRun()),
    freeze: currentFreeze(engine),
    baseline: state.baseline,
    securityPending,
    overridesPending,
    inStepWithStable,
  };
}

/**
 * Mainline revisions of stable that an override put on production-stable
 * without a verdict: they stay awaiting QA, oldest first, though the walk
 * (which starts after production-stable) no longer sees them.
 */
function overrideContentAwaitingQa(
  engine: Engine,
  overrides: readonly OverrideRecord[],
  undeployed: readonly PendingCommit[],
): PendingCommit[] {
  const listed = new Set(undeployed.map((p) => p.sha));
  const found = new Map<string, PendingCommit>();
  for (const o of overrides) {
    for (const c of o.commits) {
      if (c.verdict !== "needstesting") continue;
      const sha = c.via?.sha ?? c.sha;
      const revno = c.via?.revno ?? c.revno;
      if (revno === null || listed.has(sha) || found.has(sha)) continue;
      const subject = c.via ? (engine.repo.commit(sha)?.subject ?? "") : c.subject;
      found.set(sha, {
        sha,
        revno,
        subject,
        verdict: "needstesting",
        source: "default",
        by: null,
        markerBy: null,
        markerRole: null,
        markerIgnored: false,
        at: null,
        note: null,
        heldForRollback: false,
        rolledBackBy: null,
        tickets: ticketRefs(engine.repo.commit(sha)?.message ?? "", engine.config.ticketPatterns),
        qaWith: null,
        incrIgnored: false,
        override: { id: o.id, user: o.user, at: o.at, why: o.why },
      });
    }
  }
  return [...found.values()].sort((a, b) => a.revno - b.revno);
}

type Mainline = { segment: MainlineCommit[]; boundary: MainlineCommit | null };

/**
 * What a production branch at `tip` holds, in stable's terms: never a revno of its own.
 * `asked`, when given, is git's answer to repo.mainline(stableTip, [tip, …]) with
 * perhaps more excluded (the baseline): when its boundary is in `tip`, that
 * boundary is the newest mainline commit `tip` holds (everything after it on the
 * mainline is in the segment, which `tip` lacks), and stable's mainline need not
 * be walked again.
 */
export function holdings(engine: Engine, tip: string, stableTip: string | null, asked?: Mainline): Holdings {
  const { repo, store } = engine;
  let held: { sha: string; revno: number } | null = null;
  if (stableTip && asked?.segment.length && asked.boundary && repo.isAncestor(asked.boundary.sha, tip)) {
    held = { sha: asked.boundary.sha, revno: asked.boundary.revno };
  } else if (stableTip) {
    const { segment, boundary } = repo.mainline(stableTip, [tip]);
    if (segment.length === 0) held = { sha: stableTip, revno: repo.revno(stableTip) };
    else if (boundary && repo.isAncestor(boundary.sha, tip)) held = { sha: boundary.sha, revno: boundary.revno };
  }
  const extra = repo.commits([tip], stableTip ? [stableTip] : [], { noMerges: true, limit: 10_000 });
  const fixShas = new Set(store.fixes().map((f) => f.sha));
  const securityFixes = extra.filter((c) => fixShas.has(c.sha)).length;
  const otherCommits = extra.length - securityFixes;
  const parts = [held ? `stable r${held.revno}` : "no revision of stable"];
  if (securityFixes) parts.push(`${securityFixes} security fix${securityFixes === 1 ? "" : "es"}`);
  if (otherCommits) parts.push(`${otherCommits} commit${otherCommits === 1 ? "" : "s"} not on stable`);
  return { stable: held, securityFixes, otherCommits, text: parts.join(" + ") };
}
