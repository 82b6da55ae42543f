// Events whose data needs git: what a move of production-stable brought,
// and what a stable push left awaiting QA. Built before the transaction that
// writes them, from the same snapshot the change was decided on.
import type { Engine } from "../engine/state";
import { bringsSecurityFixes } from "../policy/fixes";
import { deployState } from "../engine/state";
import { verdictsFor } from "../engine/tickets";
import type { RefUpdate } from "../engine/facts";
import type { PendingEntry } from "../policy/deployable";
import { branchRef } from "../policy/refs";
import { isZeroSha, type MainlineCommit } from "../policy/types";
import type { EventDraft, MovedRevision } from "./types";

/** The revisions of a move, each with its effective verdict and who gave it. */
export function movedRevisions(engine: Engine, commits: readonly MainlineCommit[], entries: readonly PendingEntry[] = []): MovedRevision[] {
  const known = new Map(entries.map((e) => [e.commit.sha, e]));
  // Combined over the channels, as the walk combines them: the newest row alone may be one ticket's.
  const verdicts = verdictsFor(
    engine,
    commits.filter((c) => !known.has(c.sha)),
  );
  return commits.map((c) => {
    const e = known.get(c.sha);
    const v = verdicts.get(c.sha);
    return {
      sha: c.sha,
      revno: c.revno,
      subject: c.subject,
      verdict: e ? e.verdict : (v?.verdict ?? null),
      by: e ? (e.record?.user ?? (e.source === "message-tag" ? "(message marker)" : null)) : (v?.user ?? null),
    };
  });
}

/** A moved event lists at most this many revisions (the newest); `revisionCount` says how many it brought. */
export const MOVED_REVISIONS_LIMIT = 1000;

export function movedEvent(
  actor: string | null,
  move: {
    from: string | null;
    to: string;
    revno: number | null;
    how: "fast-forward" | "merge" | "forced";
    revisions: MovedRevision[];
    /** How many revisions the move brought, when more than are listed. */
    revisionCount?: number;
    fixes: { sha: string; subject: string }[];
  },
): EventDraft {
  const { revisionCount, ...rest } = move;
  return { type: "production-stable.moved", actor, data: { ...rest, revisionCount: revisionCount ?? move.revisions.length } };
}

/**
 * The events of a push's landed updates that say more than their audit rows:
 * production-stable moved (by an approved fast-forward, a promotion or an
 * override), and stable revisions now awaiting QA. Their data costs git reads
 * in proportion to what the push brought (thousands of revisions for a
 * promotion), so they are built only while an endpoint is configured: an
 * endpoint added later gets only events written after it (Store.registerEndpoints),
 * and the audit log tells the same moves.
 */
export function pushEvents(engine: Engine, landed: readonly RefUpdate[], user: string | null, pushId: string | null = null): EventDraft[] {
  const { repo, config } = engine;
  const events: EventDraft[] = [];
  if (config.events.endpoints.length === 0) return events;
  const prodRef = branchRef(config.branches.productionStable);
  const stableRef = branchRef(config.branches.stable);
  for (const u of landed) {
    if (isZeroSha(u.new)) continue;
    if (u.ref === prodRef) {
      const from = isZeroSha(u.old) ? null : u.old;
      // production-stable's old tip stays on its new tip's first-parent chain: the revnos tell how many came.
      const segment = repo.mainlineNewest(u.new, from ? [from] : [], MOVED_REVISIONS_LIMIT);
      const revisionCount = (segment.at(-1)?.revno ?? 0) - (from ? repo.revno(from) : 0);
      const stableTip = repo.refTips([stableRef]).get(stableRef) ?? null;
      const exclude = [from, stableTip].filter((x): x is string => !!x);
      // An override's content is no security fix (its override.used event lists it).
      const securityPath = bringsSecurityFixes(pushId ? engine.store.updateDecision(pushId, u.ref, u.old, u.new) : null);
      const fixes = securityPath
        ? repo.commits([u.new], exclude, { noMerges: true, limit: MOVED_REVISIONS_LIMIT }).map((c) => ({ sha: c.sha, subject: c.subject }))
        : [];
      events.push(
        movedEvent(user, {
          from,
          to: u.new,
          revno: segment.at(-1)?.revno ?? repo.revno(u.new),
          // Only an admin's override can force production-stable back or aside.
          how: !from || repo.isAncestor(from, u.new) ? "fast-forward" : "forced",
          revisions: movedRevisions(engine, segment),
          revisionCount: Math.max(revisionCount, segment.length),
          fixes,
        }),
      );
    } else if (u.ref === stableRef) {
      const oldRevno = isZeroSha(u.old) ? 0 : repo.revno(u.old);
      const waiting = deployState(engine).walk.entries.filter((e) => e.commit.revno > oldRevno && e.verdict === "needstesting");
      if (waiting.length > 0)
        events.push({
          type: "qa.waiting",
          actor: user,
          data: { revisions: waiting.map((e) => ({ sha: e.commit.sha, revno: e.commit.revno, subject: e.commit.subject })) },
        });
    }
  }
  return events;
}
