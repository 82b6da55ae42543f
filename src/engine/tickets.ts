// Tickets as the engine sees them: each commit's references, and each
// commit's verdict combined from what QA said of it and of its tickets.
import type { Config } from "../config";
import { judgeSegment, type PendingEntry } from "../policy/deployable";
import {
  type ChannelRecord,
  combineVerdicts,
  lateVerdictStanding,
  standsBadFor,
  type TicketLookup,
  ticketRefs,
  ticketVerdictTargets,
} from "../policy/tickets";
import { type CommitInfo, type MainlineCommit, shortSha, type Verdict, type VerdictRecord } from "../policy/types";
import { markerTrust } from "./markers";
import { type DeployState, deployState, type Engine } from "./state";

/** The tickets each commit's message references (sha → ids), by the configured patterns. */
export function ticketsOf(
  config: Pick<Config, "ticketPatterns">,
  commits: readonly Pick<CommitInfo, "sha" | "message">[],
): Map<string, string[]> {
  return new Map(commits.map((c) => [c.sha, ticketRefs(c.message, config.ticketPatterns)]));
}

/**
 * The tickets of these commits, each message parsed the first time its
 * tickets are asked for: a walk of stable asks only for revisions with a
 * verdict given through a ticket, and around an [incr] marker.
 */
export function ticketLookup(
  config: Pick<Config, "ticketPatterns">,
  commits: readonly Pick<CommitInfo, "sha" | "message">[],
): TicketLookup {
  let messages: Map<string, string> | null = null;
  const parsed = new Map<string, string[]>();
  return {
    get(sha) {
      let tickets = parsed.get(sha);
      if (tickets === undefined) {
        messages ??= new Map(commits.map((c) => [c.sha, c.message]));
        const message = messages.get(sha);
        if (message === undefined) return undefined;
        tickets = ticketRefs(message, config.ticketPatterns);
        parsed.set(sha, tickets);
      }
      return tickets;
    },
  };
}

/**
 * The verdict of each of these commits that has one, combined over the
 * channels it was given through (policy/tickets.ts combineVerdicts).
 */
export function verdictsFor(
  engine: Pick<Engine, "store" | "config">,
  commits: readonly Pick<CommitInfo, "sha" | "message">[],
  tickets: TicketLookup = ticketLookup(engine.config, commits),
): Map<string, VerdictRecord> {
  const rows = engine.store.verdictRows(commits.map((c) => c.sha));
  // The usual case, one verdict given to the commit itself, stands as it is
  // (combineVerdicts would say the same): one map entry per row, nothing else
  // per revision. Only a commit with several verdicts, or one given through a
  // ticket, is combined; its own tickets matter only once some verdict came
  // through a ticket.
  const result = new Map<string, VerdictRecord>();
  let combined: Map<string, ChannelRecord[]> | undefined;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const first = result.get(row.sha) as ChannelRecord | undefined;
    if (first === undefined) {
      result.set(row.sha, row);
      if (row.ticket !== null) (combined ??= new Map()).set(row.sha, [row]);
      continue;
    }
    combined ??= new Map();
    const all = combined.get(row.sha);
    if (all) all.push(row);
    else combined.set(row.sha, [first, row]);
  }
  if (!combined) return result;
  for (const [sha, all] of combined) {
    const newest = new Map<string | null, ChannelRecord>();
    for (const r of all) if ((newest.get(r.ticket)?.id ?? -1) < r.id) newest.set(r.ticket, r);
    const records = [...newest.values()].sort((a, b) => a.id - b.id);
    const verdict =
      records.length === 1 && records[0]!.ticket === null
        ? records[0]!
        : combineVerdicts(records, records.some((r) => r.ticket !== null) ? (tickets.get(sha) ?? []) : []);
    if (verdict) result.set(sha, verdict);
    else result.delete(sha);
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
  const tickets = ticketLookup(engine.config, segment);
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

/** A verdict recorded after a late tag was accepted, as its trace names it. */
export function describeLater(v: { verdict: string; user: string; at: string; source: string; ticket: string | null }): string {
  return `${v.verdict} by ${v.user} at ${v.at} (${v.source}${v.ticket ? `, ticket ${v.ticket}` : ""})`;
}

/**
 * Record a ticket verdict tag (qa/<verdict>/ticket-<id> on `target`): on the
 * revisions awaiting production now, at or before the tagged revision, that
 * reference the ticket — never one QA's tagged revision did not hold, and
 * never clearing an earlier bad one (ticketVerdictRevisions). Recorded late
 * (`accepted`: the tag's acceptance, when sync records it), it is not
 * applied on a revision given a verdict through the ticket, or to itself,
 * since the tag was accepted (policy/tickets.ts lateVerdictStanding): that
 * one is newer; an audit row says so. Returns the revisions recorded (none
 * when all went out meanwhile, or the tag was recorded before), those left
 * bad, and those a newer verdict overtook.
 */
export function recordTicketTag(
  engine: Engine,
  tag: { ref: string; target: string; verdict: Verdict; ticket: string; source?: string },
  user: string,
  pushId: string | null,
  accepted?: { id: number; at: string },
): { recorded: MainlineCommit[]; keptBad: MainlineCommit[]; overtaken: MainlineCommit[] } {
  const { repo, store } = engine;
  const none = { recorded: [], keptBad: [], overtaken: [] };
  const state = deployState(engine);
  const target = state.segment.find((c) => c.sha === tag.target);
  const upTo = target?.revno ?? (state.tips.stable && repo.onMainline(tag.target, state.tips.stable) ? repo.revno(tag.target) : 0);
  const { record: found, keptBad } = ticketVerdictRevisions(engine, state, upTo, tag.ticket, tag.verdict);
  if (found.length === 0) return none;
  const source = tag.source ?? `tag ${tag.ref}`;
  return store.write(() => {
    const later = accepted
      ? store.verdictsAfter(
          accepted,
          found.map((c) => c.sha),
        )
      : [];
    const overtakenBy = (c: MainlineCommit) => {
      const mine = later.filter((r) => r.sha === c.sha);
      return lateVerdictStanding(tag.ticket, mine, []).as === "overtaken"
        ? mine.filter((r) => r.ticket === null || r.ticket === tag.ticket).at(-1)
        : undefined;
    };
    const apply = found.filter((c) => !overtakenBy(c));
    const overtaken = found.filter((c) => overtakenBy(c));
    const recorded = store.recordVerdicts(
      apply.map((c) => ({ sha: c.sha, verdict: tag.verdict, revno: c.revno, ref: tag.ref, ticket: tag.ticket })),
      user,
      source,
      pushId,
      accepted?.id,
    );
    if (recorded === 0 && apply.length > 0) return none;
    for (const c of overtaken) {
      store.recordSuperseded({
        kind: "verdict",
        ref: tag.ref,
        sha: c.sha,
        user,
        pushId,
        source,
        reason:
          `${tag.verdict} for r${c.revno} ${shortSha(c.sha)} (ticket ${tag.ticket}) not applied: the tag was accepted at ${accepted!.at} ` +
          `and recorded late; the newer verdict stands: ${describeLater(overtakenBy(c)!)}`,
      });
    }
    return { recorded: apply, keptBad: apply.length ? keptBad : [], overtaken };
  });
}
