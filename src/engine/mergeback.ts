import { rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Repo } from "../git/repo";
import { type FixReturn, findFixReturns } from "../policy/fixes";
import type { CommitInfo } from "../policy/types";
import { type FixBranch, now, type SecurityFix } from "../store/store";
import type { Engine } from "./state";

/** The security fixes not yet recorded as back in `branch`. */
export function pendingIn(engine: Engine, branch: FixBranch): SecurityFix[] {
  return engine.store.fixes().filter((f) => f[branch] === null);
}

/** Which of `pending` come back through the commits of tip ^from (all of tip's history when from is null). */
export function fixReturnsIn(
  repo: Repo,
  pending: readonly SecurityFix[],
  tip: string,
  from: string | null,
): { commits: CommitInfo[]; returns: FixReturn[] } {
  const exclude = from ? [from] : [];
  const commits = repo.commits([tip], exclude);
  if (pending.length === 0) return { commits, returns: [] };
  const ids = pending.some((f) => f.patchId) ? repo.patchIds([tip], exclude) : new Map<string, string>();
  return { commits, returns: findFixReturns(pending, commits, ids) };
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
    // 128: git cannot read the mark (a commit that never landed).
    const status = repo.git.run(["merge-base", "--is-ancestor", mark, tip], { okStatuses: [1, 128] }).status;
    if (status === 0) return mark;
    if (status === 1) return repo.mergeBase(mark, tip);
  }
  return null;
}

/**
 * Record which pending security fixes have come back into `branch` through
 * the commits it gained since the last scan. Costs the new commits, not the history.
 */
export function scanMergeBack(engine: Engine, branch: FixBranch, tip: string, user: string | null, pushId: string | null): number {
  const { repo, store } = engine;
  const pending = pendingIn(engine, branch);
  const mark = store.scanMark(branch);
  let found = 0;
  if (pending.length > 0 && mark !== tip) {
    const { returns } = fixReturnsIn(repo, pending, tip, scanFrom(repo, [mark, store.previousScanMark(branch)], tip));
    const at = now();
    for (const r of returns) {
      if (store.markFixReached(branch, r.fix, { sha: r.how === "ancestry" ? tip : r.commit, at, how: r.how, by: user }, pushId)) found++;
    }
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
