import { clip, USER_TEXT_MAX } from "./message";
import { type CommitInfo, shortSha } from "./types";

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

/**
 * A recorded security fix as production-stable's rule sees it: every one not
 * retired must keep its change on every new tip. `heldAt`: a commit at which
 * its change was verified held (null: never verified; the fix itself holds it).
 */
export interface RequiredFix {
  sha: string;
  subject: string;
  retired: boolean;
  heldAt: string | null;
  /** The paths its commit changed when already known, "absent" when the repository lacks the commit. */
  paths?: readonly string[] | "absent" | null;
}

/** Where a fix's change is measured from: the newest commit it was verified held at, else the fix itself. */
export function fixBase(fix: Pick<RequiredFix, "sha" | "heldAt">): string {
  return fix.heldAt ?? fix.sha;
}

/** Each set of changed paths, sorted once (several fixes are measured against one set). */
const sortedPaths = new WeakMap<ReadonlySet<string>, string[]>();

/**
 * Does a change of `changed` (paths that differ) touch one of `paths` (a file, or a file replaced by a directory or back)?
 * Costs about (|paths| + |changed|) log |changed|, whatever a pusher makes `changed` hold: a directory above a path is
 * looked up, and paths below a path are found by a binary search of `changed` sorted.
 */
export function touchesPaths(paths: readonly string[], changed: ReadonlySet<string>): boolean {
  for (const p of paths) if (changed.has(p)) return true;
  // A changed path that is a directory above one of `paths`.
  for (const p of paths) for (let i = p.indexOf("/"); i > 0; i = p.indexOf("/", i + 1)) if (changed.has(p.slice(0, i))) return true;
  // A changed path below one of `paths`: the first changed path sorted at or after "<path>/" starts with it, if any does.
  let sorted = sortedPaths.get(changed);
  if (!sorted) {
    sorted = [...changed].sort();
    sortedPaths.set(changed, sorted);
  }
  for (const p of paths) {
    const below = `${p}/`;
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! < below) lo = mid + 1;
      else hi = mid;
    }
    if (sorted[lo]?.startsWith(below)) return true;
  }
  return false;
}

/**
 * Which fixes a new tip must be checked for, from facts git gave:
 * `paths` maps each fix that exists to the paths it touched (a fix missing
 * from it is not in the repository, as in an old database: skipped); `changed`
 * maps each base (fixBase) to the paths that differ between it and the new tip,
 * or null when git could not say (then every fix measured from it is checked).
 * A fix held at its base whose paths the new tip left alone is still held there.
 */
export function fixesToCheck(
  fixes: readonly RequiredFix[],
  paths: ReadonlyMap<string, readonly string[]>,
  changed: ReadonlyMap<string, ReadonlySet<string> | null>,
): { check: RequiredFix[]; unchanged: RequiredFix[]; missing: RequiredFix[] } {
  const result = { check: [] as RequiredFix[], unchanged: [] as RequiredFix[], missing: [] as RequiredFix[] };
  for (const fix of fixes) {
    if (fix.retired) continue;
    const touched = paths.get(fix.sha);
    if (!touched) {
      result.missing.push(fix);
      continue;
    }
    const diff = changed.get(fixBase(fix));
    if (diff === undefined || diff === null || touchesPaths(touched, diff)) result.check.push(fix);
    else result.unchanged.push(fix);
  }
  return result;
}

/** The fixes a new tip drops: those checked whose change it does not hold (`held`: the checked fixes it holds). */
export function droppedFixes(checked: readonly RequiredFix[], held: ReadonlySet<string>): RequiredFix[] {
  return checked.filter((f) => !f.retired && !held.has(f.sha));
}

/** One line naming what a tip drops, for a refusal, the mirror's hold and status. */
export function describeDropped(dropped: readonly Pick<RequiredFix, "sha" | "subject">[], tip: string): string {
  const named = dropped.slice(0, 3).map((f) => `${shortSha(f.sha)} "${clip(f.subject, USER_TEXT_MAX)}"`);
  const more = dropped.length > named.length ? ` and ${dropped.length - named.length} more` : "";
  return `${shortSha(tip)} drops the change of security fix ${named.join(", ")}${more}`;
}
