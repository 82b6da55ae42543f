import type { CommitInfo } from "./types";

export type FixHow = "ancestry" | "cherry-pick" | "patch-id";

export interface FixReturn {
  fix: string;
  commit: string;
  how: FixHow;
}

/** A commit whose message says it is a cherry-pick of a fix. */
export interface FixClaim {
  fix: string;
  commit: string;
}

const CHERRY_PICKED = /\(cherry picked from commit ([0-9a-f]{40}|[0-9a-f]{64})\)/g;

/** The shas a message says it was cherry-picked from (`git cherry-pick -x`). */
export function cherryPickedFrom(message: string): string[] {
  return [...message.matchAll(CHERRY_PICKED)].map((m) => m[1]!);
}

/**
 * The cherry-pick claims that need checking: for each pending fix not itself
 * among `commits`, the oldest commit whose message says it was picked from it.
 * Anyone can write that line, so a claim counts only once the fix's change is
 * found in the branch (see findFixReturns' `contained`).
 */
export function cherryPickClaims(pending: readonly { sha: string }[], commits: readonly CommitInfo[]): FixClaim[] {
  const newShas = new Set(commits.map((c) => c.sha));
  const pickedBy = new Map<string, string>();
  // commits come newest first; walk oldest first so the first arrival wins.
  for (const c of [...commits].reverse()) {
    for (const from of cherryPickedFrom(c.message)) if (!pickedBy.has(from)) pickedBy.set(from, c.sha);
  }
  return pending.filter((f) => !newShas.has(f.sha) && pickedBy.has(f.sha)).map((f) => ({ fix: f.sha, commit: pickedBy.get(f.sha)! }));
}

/**
 * Which pending fixes came back through `commits` (the branch's new commits),
 * and how: the fix itself (ancestry) before a cherry-pick naming it whose
 * change the branch holds (`contained`: the fixes whose claims were checked
 * against the branch's content), before a commit with the same patch-id.
 * `patchIds` maps commit → patch-id.
 */
export function findFixReturns(
  pending: readonly { sha: string; patchId: string | null }[],
  commits: readonly CommitInfo[],
  patchIds: ReadonlyMap<string, string>,
  contained: ReadonlySet<string>,
): FixReturn[] {
  const newShas = new Set(commits.map((c) => c.sha));
  const claims = new Map(cherryPickClaims(pending, commits).map((c) => [c.fix, c.commit]));
  const byPatchId = new Map<string, string>();
  for (const c of [...commits].reverse()) {
    const pid = patchIds.get(c.sha);
    if (pid && !byPatchId.has(pid)) byPatchId.set(pid, c.sha);
  }
  const returns: FixReturn[] = [];
  for (const fix of pending) {
    if (newShas.has(fix.sha)) returns.push({ fix: fix.sha, commit: fix.sha, how: "ancestry" });
    else if (claims.has(fix.sha) && contained.has(fix.sha))
      returns.push({ fix: fix.sha, commit: claims.get(fix.sha)!, how: "cherry-pick" });
    else if (fix.patchId && byPatchId.has(fix.patchId))
      returns.push({ fix: fix.sha, commit: byPatchId.get(fix.patchId)!, how: "patch-id" });
  }
  return returns;
}

/**
 * Does an update of production-stable let through as `row` says bring
 * security fixes (its commits that stable lacks)? Only through the security
 * path: a promotion, or an override of one that lacked only its CI pass
 * (every commit on production-devel, pushed by the security role). Any other
 * override's content is the override's, listed under it until QA has judged
 * it, and never tracked as security fixes. With no row to tell (null), they
 * are recorded as before: tracking a commit too many only reminds.
 */
export function bringsSecurityFixes(row: { decision: string; detail?: string | null } | null): boolean {
  if (!row || row.decision !== "override") return true;
  return /^overrode no-ci-pass:/.test(row.detail ?? "");
}
