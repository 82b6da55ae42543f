import { rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Repo } from "../git/repo";
import { findFixReturns } from "../policy/fixes";
import { type FixBranch, now } from "../store/store";
import type { Engine } from "./state";

/** patch-id (git patch-id --stable) of every non-merge commit in include ^exclude. */
export function patchIds(repo: Repo, include: readonly string[], exclude: readonly string[]): Map<string, string> {
  return repo.patchIds(include, exclude);
}

/**
 * Record which pending security fixes have come back into `branch` through
 * the commits it gained since the last scan. Costs the new commits, not the history.
 */
export function scanMergeBack(engine: Engine, branch: FixBranch, tip: string, user: string | null, pushId: string | null): number {
  const { repo, store } = engine;
  const pending = store.fixes().filter((f) => f[branch] === null);
  const mark = store.scanMark(branch);
  const from = mark && mark !== tip && repo.isAncestor(mark, tip) ? mark : null;
  let found = 0;
  if (pending.length > 0 && mark !== tip) {
    const exclude = from ? [from] : [];
    const commits = repo.commits([tip], exclude);
    const needPatchIds = pending.some((f) => f.patchId);
    const ids = needPatchIds ? patchIds(repo, [tip], exclude) : new Map<string, string>();
    const returns = findFixReturns(pending, commits, ids);
    const at = now();
    for (const r of returns) {
      if (store.markFixReached(branch, r.fix, { sha: r.how === "ancestry" ? tip : r.commit, at, how: r.how, by: user }, pushId)) found++;
    }
  }
  store.setScanMark(branch, tip);
  return found;
}

/**
 * Keep `prodgate/fixes-pending` present exactly while a security fix is not
 * yet back in devel: the post-receive shim skips Node for a push to devel
 * alone when it is absent. A stale file only costs a Node start.
 */
export function markFixesPending(engine: Engine): void {
  const path = join(dirname(engine.store.db.name), "fixes-pending");
  try {
    if (engine.store.hasFixPendingIn("devel")) writeFileSync(path, "security fixes are waiting to come back into devel\n");
    else rmSync(path, { force: true });
  } catch {
    // Only a hint for the shim: the scan itself never depends on it.
  }
}
