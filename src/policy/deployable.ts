import type { MainlineCommit, Verdict, VerdictRecord } from "./types";

/** Message tags that make a commit count as untestable without a verdict. */
const NO_QA_TAG = /\[(no-qa|testfix)\]/i;
const ROLLBACK_TAG = /\[rollback=\s*r?([0-9a-f]+)\s*\]/gi;

export type VerdictSource = "recorded" | "message-tag" | "default";

export interface PendingEntry {
  commit: MainlineCommit;
  verdict: Verdict;
  source: VerdictSource;
  record?: VerdictRecord;
  /** For a bad commit: the later mainline commit that rolls it back. */
  rolledBackBy?: MainlineCommit;
  /** True when the commit lies between a bad commit and its rollback. */
  heldForRollback?: boolean;
}

export type StopReason = "needstesting" | "bad";

export interface Blocker {
  commit: MainlineCommit;
  reason: StopReason;
}

export interface DeployableResult {
  /** Newest deployable mainline commit; `base` when nothing new is; null on an empty stable. */
  deployable: MainlineCommit | null;
  /** First commit that stops the walk, if any. */
  blocker: Blocker | null;
  /** Every commit of the segment with its effective verdict, oldest first. */
  entries: PendingEntry[];
}

export interface DeployableInput {
  /** Mainline commits of stable not yet in production-stable nor behind the baseline, oldest first. */
  segment: MainlineCommit[];
  /** The mainline commit just before the segment (already in production or at the baseline). */
  base: MainlineCommit | null;
  verdicts: ReadonlyMap<string, VerdictRecord>;
}

export function effectiveVerdict(
  commit: MainlineCommit,
  verdicts: ReadonlyMap<string, VerdictRecord>,
): { verdict: Verdict; source: VerdictSource; record?: VerdictRecord } {
  const record = verdicts.get(commit.sha);
  // A recorded verdict other than "needstesting" always wins; setting a commit
  // back to needstesting restores what its message says.
  if (record && record.verdict !== "needstesting") {
    return { verdict: record.verdict, source: "recorded", record };
  }
  if (NO_QA_TAG.test(commit.message)) return { verdict: "untestable", source: "message-tag", record };
  return { verdict: "needstesting", source: record ? "recorded" : "default", record };
}

/**
 * Can commits added on top of stable change what is deployable? Only when one
 * of them counts as tested (a recorded verdict, or a [no-qa]/[testfix] tag)
 * or rolls a revision back: commits still needing testing only ever wait
 * behind what is already there.
 */
export function couldChangeDeployable(
  added: readonly { sha: string; message: string }[],
  verdicts: ReadonlyMap<string, VerdictRecord>,
): boolean {
  return added.some((c) => {
    const record = verdicts.get(c.sha);
    if (record && record.verdict !== "needstesting") return true;
    return NO_QA_TAG.test(c.message) || rollbackTargets(c.message).length > 0;
  });
}

/** The revisions a commit's message says it rolls back: revnos or sha prefixes. */
export function rollbackTargets(message: string): string[] {
  return [...message.matchAll(ROLLBACK_TAG)].map((m) => m[1]!.toLowerCase());
}

function matchesTarget(commit: MainlineCommit, target: string): boolean {
  const isNumber = /^[0-9]+$/.test(target);
  if (isNumber && Number(target) === commit.revno) return true;
  // An all-digit target is a revno unless it is long enough to be a sha prefix.
  const minPrefix = isNumber ? 7 : 4;
  return target.length >= minPrefix && commit.sha.startsWith(target);
}

/**
 * The deployable walk: the newest mainline commit D such that every commit
 * after the base up to D is ok or untestable, where a bad commit stops the
 * walk unless a later commit rolls it back, and nothing between a bad commit
 * and its rollback can be D.
 */
export function deployableRevision(input: DeployableInput): DeployableResult {
  const { segment, verdicts } = input;
  const entries: PendingEntry[] = segment.map((commit) => ({ commit, ...effectiveVerdict(commit, verdicts) }));

  // Index of the first later commit rolling back each commit, by position.
  const rollbackAt = new Map<number, number>();
  segment.forEach((commit, j) => {
    for (const target of rollbackTargets(commit.message)) {
      for (let i = 0; i < j; i++) {
        if (matchesTarget(segment[i]!, target) && !rollbackAt.has(i)) rollbackAt.set(i, j);
      }
    }
  });

  let deployable = input.base;
  let blocker: Blocker | null = null;
  let holdUntil = -1;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const rollback = rollbackAt.get(i);
    if (rollback !== undefined) entry.rolledBackBy = segment[rollback];
    if (blocker) continue;
    if (i < holdUntil) entry.heldForRollback = true;
    if (entry.verdict === "needstesting") {
      blocker = { commit: entry.commit, reason: "needstesting" };
    } else if (entry.verdict === "bad") {
      if (rollback === undefined) blocker = { commit: entry.commit, reason: "bad" };
      else holdUntil = Math.max(holdUntil, rollback);
    } else if (i >= holdUntil) {
      deployable = entry.commit;
    }
  }
  return { deployable, blocker, entries };
}
