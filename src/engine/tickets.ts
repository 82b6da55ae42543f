// Tickets as the engine sees them: each commit's references, and each
// commit's verdict combined from what QA said of it and of its tickets.
import type { Config } from "../config";
import { combineVerdicts, ticketRefs } from "../policy/tickets";
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
 * The revisions awaiting production (the walk's segment of this state), up
 * to and including revno `upTo`, that reference `ticket`, oldest first.
 */
export function ticketRevisionsUpTo(engine: Pick<Engine, "config">, state: DeployState, upTo: number, ticket: string): MainlineCommit[] {
  const upto = state.segment.filter((c) => c.revno <= upTo);
  const tickets = ticketsOf(engine.config, upto);
  return upto.filter((c) => tickets.get(c.sha)!.includes(ticket));
}

/**
 * Record a ticket verdict tag (qa/<verdict>/ticket-<id> on `target`): on the
 * revisions awaiting production now, at or before the tagged revision, that
 * reference the ticket — never one QA's tagged revision did not hold. The
 * caller holds the mirror's lock. Returns the revisions recorded (none when
 * all went out meanwhile, or the tag was recorded before).
 */
export function recordTicketTag(
  engine: Engine,
  tag: { ref: string; target: string; verdict: Verdict; ticket: string },
  user: string,
  pushId: string | null,
): MainlineCommit[] {
  const { repo, store } = engine;
  const state = deployState(engine);
  const target = state.segment.find((c) => c.sha === tag.target);
  const upTo = target?.revno ?? (state.tips.stable && repo.onMainline(tag.target, state.tips.stable) ? repo.revno(tag.target) : 0);
  const found = ticketRevisionsUpTo(engine, state, upTo, tag.ticket);
  if (found.length === 0) return [];
  const recorded = store.recordVerdicts(
    found.map((c) => ({ sha: c.sha, verdict: tag.verdict, revno: c.revno, ref: tag.ref, ticket: tag.ticket })),
    user,
    `tag ${tag.ref}`,
    pushId,
  );
  return recorded > 0 ? found : [];
}
