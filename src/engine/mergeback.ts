import { rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Repo } from "../git/repo";
import { cherryPickClaims, type FixClaim, type FixReturn, findFixReturns } from "../policy/fixes";
import { type CommitInfo, shortSha } from "../policy/types";
import { type FixBranch, now, type SecurityFix } from "../store/store";
import type { Engine } from "./state";

/** The security fixes not yet recorded as back in `branch`. */
export function pendingIn(engine: Engine, branch: FixBranch): SecurityFix[] {
  return engine.store.fixes().filter((f) => f[branch] === null);
}

/**
 * Which of `pending` come back through the commits of tip ^from (all of tip's
 * history when from is null; from may name several commits). A cherry-pick
 * trailer is a claim: it counts only when the fix's change is in the tip's
 * tree, and a claim it is not is returned as disputed. A commit with the
 * fix's patch-id counts only when the change is in the tip's tree too.
 */
export function fixReturnsIn(
  repo: Repo,
  pending: readonly Pick<SecurityFix, "sha" | "patchId">[],
  tip: string,
  from: string | readonly string[] | null,
): { commits: CommitInfo[]; returns: FixReturn[]; disputed: FixClaim[]; reverted: RevertedFix[] } {
  const exclude = from === null ? [] : typeof from === "string" ? [from] : [...from];
  const commits = repo.commits([tip], exclude);
  if (pending.length === 0) return { commits, returns: [], disputed: [], reverted: [] };
  const ids = pending.some((f) => f.patchId) ? repo.patchIds([tip], exclude) : new Map<string, string>();
  const contained = new Set<string>();
  const unconfirmed: FixClaim[] = [];
  for (const claim of cherryPickClaims(pending, commits)) {
    // Where trees are read, the change must be at the fix's place (see changeMergedIn).
    if (repo.readsTrees ? repo.changeMergedIn(claim.fix, tip) : repo.changeContained(claim.fix, tip)) contained.add(claim.fix);
    else unconfirmed.push(claim);
  }
  // A commit with the fix's patch-id is no proof either when a later one takes the change out again.
  // A key that is not a commit (a cowboy's patch) has no change to read here: its caller checks it.
  const isCommit = (key: string) => /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(key);
  const found = findFixReturns(pending, commits, ids, contained).filter(
    // Where trees are read, the commit with the fix's patch-id must still hold its change at its place (see changeMergedIn).
    (r) =>
      r.how !== "patch-id" || !isCommit(r.fix) || (repo.readsTrees ? repo.changeMergedIn(r.commit, tip) : repo.changeContained(r.fix, tip)),
  );
  // The fix itself newly in the branch's history: back only while the tip still holds its change.
  const reverted: RevertedFix[] = [];
  const returns = found.filter((r) => {
    if (r.how !== "ancestry" || !isCommit(r.fix)) return true;
    const gone = revertedIn(repo, r.fix, tip, exclude, ids);
    if (gone) reverted.push(gone);
    return !gone;
  });
  const back = new Set(returns.map((r) => r.fix));
  return { commits, returns, disputed: unconfirmed.filter((c) => !back.has(c.fix)), reverted };
}

/** A fix whose commit a branch holds while its tree does not hold the fix's change. */
export interface RevertedFix {
  fix: string;
  /** The commit of tip ^exclude that undoes the fix (its diff reversed, by patch-id), when there is one. */
  revert: string | null;
}

/**
 * Is fix, an ancestor of tip, taken out again: merged, then reverted (or lost
 * in a merge's resolution)? Asked only of a pending fix whose commit has just
 * become an ancestor, never of the history. A history whose trees are not
 * read (Bazaar) counts ancestry alone. `ids`: patch-ids of tip ^exclude already
 * asked, else asked here.
 */
export function revertedIn(
  repo: Repo,
  fix: string,
  tip: string,
  exclude: readonly string[],
  ids?: ReadonlyMap<string, string>,
): RevertedFix | null {
  if (!repo.readsTrees || repo.changeMergedIn(fix, tip)) return null;
  const undo = repo.revertPatchId(fix);
  const known = ids && ids.size > 0 ? ids : repo.patchIds([tip], exclude);
  let revert: string | null = null;
  // Newest first from git: the oldest commit that undoes it is the one to name.
  if (undo) for (const [sha, pid] of known) if (pid === undo) revert = sha;
  return { fix, revert };
}

/** Record fixes merged and taken out again: an audit row each, and a line for whoever is told. */
function recordReverted(
  engine: Engine,
  branch: FixBranch,
  tip: string,
  reverted: readonly RevertedFix[],
  user: string | null,
  pushId: string | null,
  notes?: string[],
): void {
  if (reverted.length === 0) return;
  const at = now();
  const how = (r: RevertedFix) => (r.revert ? `then reverted in ${shortSha(r.revert)}` : `but ${shortSha(tip)} does not hold its change`);
  engine.store.audit(
    reverted.map((r) => ({
      at,
      pushId,
      user,
      ref: branch,
      old: r.fix,
      new: r.revert ?? tip,
      decision: "merge-back",
      code: "reverted",
      reason: `security fix ${shortSha(r.fix)} was merged into ${branch}, ${how(r)}; the fix stays pending`,
    })),
  );
  for (const r of reverted) {
    notes?.push(`prodgate: security fix ${shortSha(r.fix)} was merged into ${branch}, ${how(r)}: it stays pending`);
  }
}

/** Record claims the content does not bear out: an audit row each, and a line for whoever is told. */
function recordDisputed(
  engine: Engine,
  branch: FixBranch,
  tip: string,
  disputed: readonly FixClaim[],
  user: string | null,
  pushId: string | null,
  notes?: string[],
): void {
  if (disputed.length === 0) return;
  const at = now();
  engine.store.audit(
    disputed.map((d) => ({
      at,
      pushId,
      user,
      ref: branch,
      old: d.fix,
      new: d.commit,
      decision: "merge-back",
      code: "disputed",
      reason: `${shortSha(d.commit)} says it is a cherry-pick of security fix ${shortSha(d.fix)}, but the fix's change is not in ${branch} at ${shortSha(tip)}; the fix stays pending`,
    })),
  );
  for (const d of disputed) {
    notes?.push(
      `prodgate: ${shortSha(d.commit)} says it is a cherry-pick of security fix ${shortSha(d.fix)}, but ${branch} does not hold the fix's change: it stays pending`,
    );
  }
}

/**
 * For fixes a promotion has just recorded: which are back in devel and stable
 * already, picked or merged there before the promotion (a later scan starts
 * at the branch's scan mark and would never see them). Looks at ancestry,
 * then at the commits each branch holds that the fixes do not (from their
 * merge base on), never at the whole history.
 */
export function findEarlierReturns(
  engine: Engine,
  fixShas: readonly string[],
  tips: Record<FixBranch, string | null>,
  pushId: string | null,
  notes?: string[],
): number {
  const { repo, store } = engine;
  const wanted = new Set(fixShas);
  let found = 0;
  for (const branch of ["devel", "stable"] as const) {
    const tip = tips[branch];
    if (!tip) continue;
    const pending = pendingIn(engine, branch).filter((f) => wanted.has(f.sha));
    if (pending.length === 0) continue;
    const at = now();
    const rest: SecurityFix[] = [];
    const reverted: RevertedFix[] = [];
    for (const f of pending) {
      if (repo.isAncestor(f.sha, tip)) {
        const gone = revertedIn(repo, f.sha, tip, [f.sha]);
        if (gone) reverted.push(gone);
        else if (store.markFixReached(branch, f.sha, { sha: tip, at, how: "ancestry", by: null }, pushId)) found++;
      } else rest.push(f);
    }
    recordReverted(engine, branch, tip, reverted, null, pushId, notes);
    if (rest.length === 0) continue;
    const { returns, disputed } = fixReturnsIn(
      repo,
      rest,
      tip,
      rest.map((f) => f.sha),
    );
    for (const r of returns) if (store.markFixReached(branch, r.fix, { sha: r.commit, at, how: r.how, by: null }, pushId)) found++;
    recordDisputed(engine, branch, tip, disputed, null, pushId, notes);
  }
  return found;
}

/**
 * Where the scan of `branch` starts: everything reachable from the scan mark
 * has been looked at. The mark is normally an ancestor of the tip; pre-receive
 * may have set it to a push that then did not land, and then the part both
 * share is what was looked at. When that push died before git kept its
 * objects, the mark names a commit that does not exist: the previous mark
 * (the tip that push started from) is used instead, and without one the
 * whole history is scanned again. Never fatal.
 */
function scanFrom(repo: Repo, marks: readonly (string | null)[], tip: string): string | null {
  for (const mark of marks) {
    if (!mark) continue;
    if (mark === tip) return mark;
    // unknown: git cannot read the mark (a commit that never landed).
    const ancestry = repo.ancestry(mark, tip);
    if (ancestry === "yes") return mark;
    if (ancestry === "no") return repo.mergeBase(mark, tip);
  }
  return null;
}

/**
 * Record which pending security fixes have come back into `branch` through
 * the commits it gained since the last scan. Costs the new commits, not the history.
 */
export function scanMergeBack(
  engine: Engine,
  branch: FixBranch,
  tip: string,
  user: string | null,
  pushId: string | null,
  notes?: string[],
): number {
  const { repo, store } = engine;
  const pending = pendingIn(engine, branch);
  const mark = store.scanMark(branch);
  let found = 0;
  if (pending.length > 0 && mark !== tip) {
    const { returns, disputed, reverted } = fixReturnsIn(repo, pending, tip, scanFrom(repo, [mark, store.previousScanMark(branch)], tip));
    const at = now();
    for (const r of returns) {
      if (store.markFixReached(branch, r.fix, { sha: r.how === "ancestry" ? tip : r.commit, at, how: r.how, by: user }, pushId)) found++;
    }
    recordDisputed(engine, branch, tip, disputed, user, pushId, notes);
    recordReverted(engine, branch, tip, reverted, user, pushId, notes);
  }
  store.setScanMark(branch, tip);
  return found;
}

/**
 * Keep prodgate/fixes-pending present exactly while a security fix is not yet
 * back in devel or stable: the pre-receive shim then also asks git for the
 * pushed commits' patch-ids while Node starts. Only a hint: a stale one costs
 * a git process, never a wrong answer.
 */
export function markFixesPending(engine: Engine): void {
  const path = join(dirname(engine.store.path), "fixes-pending");
  try {
    if (engine.store.hasFixPending()) writeFileSync(path, "security fixes are waiting to come back\n");
    else rmSync(path, { force: true });
  } catch {
    // Only a hint.
  }
}
