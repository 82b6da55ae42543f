// Tickets as the engine sees them: each commit's references, and each
// commit's verdict combined from what QA said of it and of its tickets.
import type { Config } from "../config";
import { judgeSegment, type PendingEntry } from "../policy/deployable";
import { combineVerdicts, standsBadFor, ticketRefs, ticketVerdictTargets } from "../policy/tickets";
import { markerTrust } from "./markers";
import type { CommitInfo, MainlineCommit, Verdict, VerdictRecord } from "../policy/types";
import { type DeployState, deployState, type Engine } from "./state";

/** The tickets each commit's message references (sha → ids), by the configured patterns. */
export function ticketsOf(
  config: Pick<Config, "ticketPatterns">,
  commits: readonly Pick<CommitInfo, "sha" | "message">[],
): Map<string, string[]> {
  return new Map(commits.map((c) => [c.sha, ticketRefs(c.message, config.ticketPatterns)]));
}

/**
 * The verdict of each of these commits that has one, combined over the
 * channels it was given through (policy/tickets.ts combineVerdicts).
 */
export function verdictsFor(
  engine: Pick<Engine, "store" | "config">,
  commits: readonly Pick<CommitInfo, "sha" | "message">[],
  tickets: ReadonlyMap<string, readonly string[]> = ticketsOf(engine.config, commits),
): Map<string, VerdictRecord> {
  const channels = engine.store.verdictChannels(commits.map((c) => c.sha));
  const result = new Map<string, VerdictRecord>();
  for (const [sha, records] of channels) {
    const combined = combineVerdicts(records, tickets.get(sha) ?? []);
    if (combined) result.set(sha, combined);
  }
  return result;
}

/**
 * The verdict that stands for each commit of `segment` (a stretch of
 * stable's mainline, oldest first), judged as the deployable walk judges:
 * recorded and by ticket, by trusted marker, and an [incr] commit by the later
 * landings of its tickets in the segment. Keyed by sha.
 */
export function judgedSegment(engine: Pick<Engine, "store" | "config">, segment: readonly MainlineCommit[]): Map<string, PendingEntry> {
  const tickets = ticketsOf(engine.config, segment);
  const entries = judgeSegment({
    segment: [...segment],
    verdicts: verdictsFor(engine, segment, tickets),
    markers: markerTrust(engine, segment),
    tickets,
  });
  return new Map(entries.map((e) => [e.commit.sha, e] as const));
}

/**
 * The revisions awaiting production (the walk's segment of this state), up
 * to and including revno `upTo`, that reference `ticket`, oldest first.
 */
export function ticketRevisionsUpTo(engine: Pick<Engine, "config">, state: DeployState, upTo: number, ticket: string): MainlineCommit[] {
  const upto = state.segment.filter((c) => c.revno <= upTo);
  const tickets = ticketsOf(engine.config, upto);
  return upto.filter((c) => tickets.get(c.sha)!.includes(ticket));
}

/**
 * The revisions a verdict through `ticket` records on, up to revno `upTo`
 * (ticketRevisionsUpTo), and those it leaves bad (policy/tickets.ts
 * ticketVerdictTargets), oldest first.
 */
export function ticketVerdictRevisions(
  engine: Pick<Engine, "config">,
  state: DeployState,
  upTo: number,
  ticket: string,
  verdict: Verdict,
): { record: MainlineCommit[]; keptBad: MainlineCommit[] } {
  const entries = new Map(state.walk.entries.map((e) => [e.commit.sha, e] as const));
  return ticketVerdictTargets(ticketRevisionsUpTo(engine, state, upTo, ticket), verdict, (c) =>
    standsBadFor(entries.get(c.sha)?.record, ticket),
  );
}

/** What to tell QA of the revisions a ticket verdict left bad. */
export function keptBadNote(keptBad: readonly MainlineCommit[]): string {
  const first = `r${keptBad[0]!.revno}`;
  const which = keptBad.map((c) => `r${c.revno}`).join(", ");
  return (
    `${which} ${keptBad.length === 1 ? "stays" : "stay"} bad: a verdict by ticket given with a later landing in does not clear ` +
    `an earlier bad revision; roll it back ([rollback=${first}]) or judge it on its own (prodgate qa ok ${first})`
  );
}

/**
 * Record a ticket verdict tag (qa/<verdict>/ticket-<id> on `target`): on the
 * revisions awaiting production now, at or before the tagged revision, that
 * reference the ticket — never one QA's tagged revision did not hold, and
 * never clearing an earlier bad one (ticketVerdictRevisions). Returns the
 * revisions recorded (none when all went out meanwhile, or the tag was
 * recorded before) and those left bad.
 */
export function recordTicketTag(
  engine: Engine,
  tag: { ref: string; target: string; verdict: Verdict; ticket: string },
  user: string,
  pushId: string | null,
): { recorded: MainlineCommit[]; keptBad: MainlineCommit[] } {
  const { repo, store } = engine;
  const state = deployState(engine);
  const target = state.segment.find((c) => c.sha === tag.target);
  const upTo = target?.revno ?? (state.tips.stable && repo.onMainline(tag.target, state.tips.stable) ? repo.revno(tag.target) : 0);
  const { record: found, keptBad } = ticketVerdictRevisions(engine, state, upTo, tag.ticket, tag.verdict);
  if (found.length === 0) return { recorded: [], keptBad: [] };
  const recorded = store.recordVerdicts(
    found.map((c) => ({ sha: c.sha, verdict: tag.verdict, revno: c.revno, ref: tag.ref, ticket: tag.ticket })),
    user,
    `tag ${tag.ref}`,
    pushId,
  );
  return recorded > 0 ? { recorded: found, keptBad } : { recorded: [], keptBad: [] };
}
