import type { CommitInfo } from "./types";

export type FixHow = "ancestry" | "cherry-pick" | "patch-id";

export interface FixReturn {
  fix: string;
  commit: string;
  how: FixHow;
}

const CHERRY_PICKED = /\(cherry picked from commit ([0-9a-f]{40}|[0-9a-f]{64})\)/g;

/** The shas a message says it was cherry-picked from (`git cherry-pick -x`). */
export function cherryPickedFrom(message: string): string[] {
  return [...message.matchAll(CHERRY_PICKED)].map((m) => m[1]!);
}

/**
 * Which pending fixes came back through `commits` (the branch's new commits),
 * and how: the fix itself (ancestry) before a cherry-pick naming it, before a
 * commit with the same patch-id. `patchIds` maps commit → patch-id.
 */
export function findFixReturns(
  pending: readonly { sha: string; patchId: string | null }[],
  commits: readonly CommitInfo[],
  patchIds: ReadonlyMap<string, string>,
): FixReturn[] {
  const newShas = new Set(commits.map((c) => c.sha));
  const pickedBy = new Map<string, string>();
  const byPatchId = new Map<string, string>();
  // commits come newest first; walk oldest first so the first arrival wins.
  for (const c of [...commits].reverse()) {
    for (const from of cherryPickedFrom(c.message)) if (!pickedBy.has(from)) pickedBy.set(from, c.sha);
    const pid = patchIds.get(c.sha);
    if (pid && !byPatchId.has(pid)) byPatchId.set(pid, c.sha);
  }
  const returns: FixReturn[] = [];
  for (const fix of pending) {
    if (newShas.has(fix.sha)) returns.push({ fix: fix.sha, commit: fix.sha, how: "ancestry" });
    else if (pickedBy.has(fix.sha)) returns.push({ fix: fix.sha, commit: pickedBy.get(fix.sha)!, how: "cherry-pick" });
    else if (fix.patchId && byPatchId.has(fix.patchId))
      returns.push({ fix: fix.sha, commit: byPatchId.get(fix.patchId)!, how: "patch-id" });
  }
  return returns;
}
