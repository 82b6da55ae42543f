// Tickets as the engine sees them: each commit's references, and each
// commit's verdict combined from what QA said of it and of its tickets.
import type { Config } from "../config";
import { combineVerdicts, ticketRefs } from "../policy/tickets";
import type { CommitInfo, VerdictRecord } from "../policy/types";
import type { Engine } from "./state";

/** The tickets each commit's message references (sha → ids), by the configured patterns. */
export function ticketsOf(config: Pick<Config, "ticketPatterns">, commits: readonly Pick<CommitInfo, "sha" | "message">[]): Map<string, string[]> {
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
