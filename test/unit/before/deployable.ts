import { carriesIncrMarker } from "../../../src/policy/tickets";
import type { MainlineCommit, Verdict, VerdictRecord } from "../../../src/policy/types";

/** Message tags that make a commit count as untestable without a verdict. */
const NO_QA_TAG = /\[(no-qa|testfix)\]/i;
const ROLLBACK_TAG = /\[rollback=\s*r?([0-9a-f]+)\s*\]/gi;
/** How many [rollback=…] targets of one commit count: the rest are ignored, so no message can make the walk slow. */
export const MAX_ROLLBACK_TARGETS = 16;

export type VerdictSource = "recorded" | "message-tag" | "incremental" | "default";

/** Who vouched for a commit's [no-qa]/[testfix] marker: the user who pushed it onto devel or stable, and the role that made it count. */
export interface MarkerVouch {
  user: string;
  role: string;
}

/**
 * Whose markers count: every commit's ("anyone"), or only those of the
 * commits in the map (sha → who pushed it there holding the trusted role).
 */
export type MarkerTrust = "anyone" | ReadonlyMap<string, MarkerVouch>;

export interface PendingEntry {
  commit: MainlineCommit;
  verdict: Verdict;
  source: VerdictSource;
  record?: VerdictRecord;
  /** For an untestable-by-message commit: who pushed it (absent when everyone's markers count). */
  vouchedBy?: MarkerVouch;
  /** The message carries [no-qa] or [testfix] that does not count (nobody trusted pushed it, or it is a rollback or a merge). */
  markerIgnored?: boolean;
  /** For a bad commit: the later mainline commit that rolls it back. */
  rolledBackBy?: MainlineCommit;
  /** True when the commit lies between a bad commit and its rollback. */
  heldForRollback?: boolean;
  /** The tickets its message references (when the caller gave them). */
  tickets?: readonly string[];
  /**
   * For a commit whose trusted [incr] marker counts and that has no verdict of
   * its own: the later landings of its tickets it is QA'd with (empty: none
   * has landed yet, and it waits like any other).
   */
  qaWith?: MainlineCommit[];
  /** The message carries [incr] that does not count (nobody trusted pushed it, or it is a rollback or a merge). */
  incrIgnored?: boolean;
}

export type StopReason = "needstesting" | "bad";

export interface Blocker {
  commit: MainlineCommit;
  reason: StopReason;
}

export interface DeployableResult {
  /** Newest deployable mainline commit; `base` when nothing new is; null on an empty stable. */
  deployable: MainlineCommit | null;
  /**
   * Every mainline commit after the base, up to and including the deployable
   * revision, that is itself ok or untestable and not held between a bad
   * commit and its rollback, oldest first: the revisions that are, or were, a
   * deployable revision, and so the only new tips production-stable takes.
   */
  candidates: MainlineCommit[];
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
  /** Whose [no-qa]/[testfix]/[incr] markers count (prodgate.markers.trust). */
  markers: MarkerTrust;
  /** The tickets each commit references (sha → ids); without it, [incr] never counts. */
  tickets?: ReadonlyMap<string, readonly string[]>;
}

/** Does the message carry [no-qa] or [testfix]? A rollback never counts as untestable by its message. */
export function carriesNoQaMarker(message: string): boolean {
  return NO_QA_TAG.test(message) && !hasRollbackMarker(message);
}

/** Does the message carry a marker whose trust is recorded: [no-qa], [testfix] or [incr], on a commit that is not a rollback? */
export function carriesTrustedMarker(message: string): boolean {
  return (NO_QA_TAG.test(message) || carriesIncrMarker(message)) && !hasRollbackMarker(message);
}

function hasRollbackMarker(message: string): boolean {
  ROLLBACK_TAG.lastIndex = 0;
  const found = ROLLBACK_TAG.test(message);
  ROLLBACK_TAG.lastIndex = 0;
  return found;
}

export function effectiveVerdict(
  commit: MainlineCommit,
  verdicts: ReadonlyMap<string, VerdictRecord>,
  markers: MarkerTrust,
): { verdict: Verdict; source: VerdictSource; record?: VerdictRecord; vouchedBy?: MarkerVouch; markerIgnored?: boolean } {
  const record = verdicts.get(commit.sha);
  // A recorded verdict other than "needstesting" always wins; setting a commit
  // back to needstesting restores what its message says.
  if (record && record.verdict !== "needstesting") {
    return { verdict: record.verdict, source: "recorded", record };
  }
  if (NO_QA_TAG.test(commit.message)) {
    const vouch = markers === "anyone" ? null : markers.get(commit.sha);
    // A merge never vouches for a marker, whoever's markers count: its message may copy the merged side's subjects.
    if (vouch !== undefined && !hasRollbackMarker(commit.message) && commit.parents.length <= 1) {
      return { verdict: "untestable", source: "message-tag", record, ...(vouch ? { vouchedBy: vouch } : {}) };
    }
    return { verdict: "needstesting", source: record ? "recorded" : "default", record, markerIgnored: true };
  }
  return { verdict: "needstesting", source: record ? "recorded" : "default", record };
}

/**
 * Can commits added on top of stable change what is deployable? Only when one
 * of them counts as tested (a recorded verdict, or a [no-qa]/[testfix] tag)
 * or rolls a revision back: commits still needing testing only ever wait
 * behind what is already there. Markers are taken as counting whoever pushed
 * them (the cautious answer).
 */
export function couldChangeDeployable(
  added: readonly { sha: string; message: string }[],
  verdicts: ReadonlyMap<string, VerdictRecord>,
): boolean {
  return added.some((c) => {
    const record = verdicts.get(c.sha);
    if (record && record.verdict !== "needstesting") return true;
    return NO_QA_TAG.test(c.message) || hasRollbackMarker(c.message);
  });
}

/** The revisions a commit's message says it rolls back: revnos or sha prefixes, at most MAX_ROLLBACK_TARGETS. */
export function rollbackTargets(message: string): string[] {
  const targets: string[] = [];
  for (const m of message.matchAll(ROLLBACK_TAG)) {
    targets.push(m[1]!.toLowerCase());
    if (targets.length >= MAX_ROLLBACK_TARGETS) break;
  }
  return targets;
}

/**
 * Finds the segment positions a rollback target names, in time linear in the
 * segment: a revno by a map, a sha prefix by a map per prefix length in use.
 * An all-digit target is a revno, and also a sha prefix when it is at least
 * seven digits long; other sha prefixes need four. A prefix naming more than
 * one commit of the segment is ambiguous and names none.
 */
class TargetIndex {
  // Built at the first rollback marker: most segments carry none.
  private byRevno: Map<number, number> | null = null;
  private readonly byPrefix = new Map<number, Map<string, number>>();

  constructor(private readonly segment: readonly MainlineCommit[]) {}

  private prefixMap(length: number): Map<string, number> {
    let map = this.byPrefix.get(length);
    if (!map) {
      map = new Map();
      for (let i = 0; i < this.segment.length; i++) {
        const key = this.segment[i]!.sha.slice(0, length);
        map.set(key, map.has(key) ? -1 : i);
      }
      this.byPrefix.set(length, map);
    }
    return map;
  }

  positions(target: string): number[] {
    const found = new Set<number>();
    const isNumber = /^[0-9]+$/.test(target);
    if (isNumber && target.length <= 15) {
      this.byRevno ??= new Map(this.segment.map((c, i) => [c.revno, i] as const));
      const at = this.byRevno.get(Number(target));
      if (at !== undefined) found.add(at);
    }
    if (target.length >= (isNumber ? 7 : 4) && target.length <= 64) {
      const at = this.prefixMap(target.length).get(target);
      if (at !== undefined && at >= 0) found.add(at);
    }
    return [...found];
  }
}

/**
 * [incr]: a commit marked incremental, with no verdict of its own, is QA'd
 * with the next later landing of each of its tickets that is not itself
 * incremental: it is ok (or untestable) when all of those are, and needs
 * testing otherwise; with a ticket not landed again yet it waits like any
 * other. The marker counts only where [no-qa] would (prodgate.markers.trust),
 * and never on a rollback, which needs its own verdict. Linear: one pass from
 * the newest commit, a map from ticket to its next final landing.
 */
function coverIncremental(entries: PendingEntry[], tickets: ReadonlyMap<string, readonly string[]>, markers: MarkerTrust): void {
  const finalAt = new Map<string, PendingEntry>();
  for (let j = entries.length - 1; j >= 0; j--) {
    const entry = entries[j]!;
    const { commit } = entry;
    const own = tickets.get(commit.sha) ?? [];
    entry.tickets = own;
    let incremental = false;
    if (carriesIncrMarker(commit.message)) {
      incremental = (markers === "anyone" || markers.has(commit.sha)) && !hasRollbackMarker(commit.message) && commit.parents.length <= 1;
      if (!incremental) entry.incrIgnored = true;
    }
    if (incremental && entry.verdict === "needstesting") {
      const later = own.map((t) => finalAt.get(t));
      const landed = later.every((e) => e !== undefined) && later.length > 0;
      const with_ = [...new Set(later.filter((e): e is PendingEntry => e !== undefined))];
      entry.qaWith = landed ? with_.map((e) => e.commit) : [];
      if (landed && with_.every((e) => e.verdict === "ok" || e.verdict === "untestable")) {
        entry.verdict = with_.some((e) => e.verdict === "ok") ? "ok" : "untestable";
        entry.source = "incremental";
      }
    }
    if (!incremental) for (const t of own) finalAt.set(t, entry);
  }
}

/**
 * The deployable walk: the newest mainline commit D such that every commit
 * after the base up to D is ok or untestable, where a bad commit stops the
 * walk unless a later commit rolls it back, and nothing between a bad commit
 * and its rollback can be D; nor anything from an [incr] commit passed by a
 * later landing up to that landing.
 */
export function deployableRevision(input: DeployableInput): DeployableResult {
  const { segment, verdicts, markers } = input;
  const entries: PendingEntry[] = segment.map((commit) => ({ commit, ...effectiveVerdict(commit, verdicts, markers) }));
  if (input.tickets) coverIncremental(entries, input.tickets, markers);

  // Index of the first later commit rolling back each commit, by position.
  const rollbackAt = new Map<number, number>();
  const index = new TargetIndex(segment);
  segment.forEach((commit, j) => {
    for (const target of rollbackTargets(commit.message)) {
      for (const i of index.positions(target)) {
        if (i < j && !rollbackAt.has(i)) rollbackAt.set(i, j);
      }
    }
  });

  // An [incr] commit passed by a later landing goes out only together with it, as a bad commit
  // only with its rollback: QA tried the landing, never the partial state before it.
  let position: Map<string, number> | null = null;
  let deployable = input.base;
  let blocker: Blocker | null = null;
  let holdUntil = -1;
  let incrUntil = -1;
  const approved: number[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const rollback = rollbackAt.get(i);
    if (rollback !== undefined) entry.rolledBackBy = segment[rollback];
    if (blocker) continue;
    if (i < holdUntil) entry.heldForRollback = true;
    if (entry.source === "incremental") {
      position ??= new Map(segment.map((c, j) => [c.sha, j] as const));
      for (const c of entry.qaWith ?? []) incrUntil = Math.max(incrUntil, position.get(c.sha) ?? -1);
    }
    if (entry.verdict === "needstesting") {
      blocker = { commit: entry.commit, reason: "needstesting" };
    } else if (entry.verdict === "bad") {
      if (rollback === undefined) blocker = { commit: entry.commit, reason: "bad" };
      else holdUntil = Math.max(holdUntil, rollback);
    } else if (i >= holdUntil && i >= incrUntil) {
      deployable = entry.commit;
      approved.push(i);
    }
  }
  // Everything approved so far lies at or before D: the walk only moves D forward.
  const candidates = approved.map((i) => segment[i]!);
  return { deployable, candidates, blocker, entries };
}
