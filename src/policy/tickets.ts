// Ticket references in commit messages, and what verdicts given by ticket
// mean for one revision. Pure: patterns and records come in, answers go out.
import type { Verdict, VerdictRecord } from "./types";

/**
 * The patterns that count when prodgate.tickets.pattern is unset: the
 * process's own `[bug=N]` / `[bug=N,M]` (blanks allowed, `[bugs=…]` too),
 * Debian's and Launchpad's `LP: #N` (and `LP: #N, #M`), and GitHub's
 * `Fixes #N` / `Closes #N`, each number ending where a word would (`#7x` is
 * no reference to 7). Each has one capture group holding one id or a
 * list of them. Each is linear: a bounded repetition after a literal, or
 * repetitions that must each start with a separator.
 */
export const DEFAULT_TICKET_PATTERNS: readonly string[] = [
  String.raw`\[[Bb]ugs?=([0-9,\s]{1,200})\]`,
  String.raw`LP:\s{0,8}#([0-9]+(?:,\s{0,8}#[0-9]+)*)(?![0-9A-Za-z_])`,
  String.raw`\b(?:[Ff]ixes|[Cc]loses)\s{1,8}#([0-9]+)(?![0-9A-Za-z_])`,
];

/** How many tickets of one commit count: the rest are ignored, so no message can make a walk slow. */
export const MAX_TICKETS_PER_COMMIT = 16;
/** How much of a message is searched for references: every pattern runs over at most this many characters. */
export const MAX_SCANNED_MESSAGE = 16_384;

/** A ticket id: letters, digits and . _ -, starting with a letter or digit (123456, APP-123). */
const TICKET_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isTicketId(id: string): boolean {
  return TICKET_ID.test(id);
}

/** A configured pattern, compiled, or why it cannot be used. */
export function compileTicketPattern(source: string): { pattern: RegExp } | { error: string } {
  let pattern: RegExp;
  try {
    pattern = new RegExp(source, "g");
  } catch (err) {
    return { error: `"${source}" is not a valid regular expression (${(err as Error).message})` };
  }
  // Matching the empty alternative tells how many capture groups the pattern has.
  const groups = new RegExp(`${source}|`).exec("")!.length - 1;
  if (groups !== 1) return { error: `"${source}" has ${groups} capture groups; it needs exactly one, around the ticket id` };
  return { pattern };
}

/**
 * The tickets a message references, in order of first mention, without
 * repeats, at most MAX_TICKETS_PER_COMMIT. A capture may hold several ids
 * separated by commas, blanks or `#` (`[bug=1, 2]`, `LP: #1, #2`); a piece
 * that is not a ticket id is skipped.
 */
export function ticketRefs(message: string, patterns: readonly RegExp[]): string[] {
  const text = message.length > MAX_SCANNED_MESSAGE ? message.slice(0, MAX_SCANNED_MESSAGE) : message;
  const found = new Set<string>();
  for (const pattern of patterns) {
    const global = pattern.global ? pattern : new RegExp(pattern.source, `${pattern.flags}g`);
    global.lastIndex = 0;
    for (const m of text.matchAll(global)) {
      for (const id of (m[1] ?? "").split(/[\s,#]+/)) {
        if (!isTicketId(id)) continue;
        found.add(id);
        if (found.size >= MAX_TICKETS_PER_COMMIT) return [...found];
      }
    }
  }
  return [...found];
}

/** Each commit's tickets by sha (a Map, or parsed on demand: see engine/tickets.ts ticketLookup). */
export interface TicketLookup {
  get(sha: string): readonly string[] | undefined;
}

/** `[incr]` (or `[incremental]`): one landing of a ticket fixed in several; QA happens on a later one. */
const INCR_TAG = /\[incr(?:emental)?\]/i;

export function carriesIncrMarker(message: string): boolean {
  return INCR_TAG.test(message);
}

/** A recorded verdict with the ticket it came through (null: given to the revision itself) and its order. */
export interface ChannelRecord extends VerdictRecord {
  /** Increases with every record: the later record is the newer word. */
  id: number;
  ticket: string | null;
}

/** A revision's verdict combined from what was said of it directly and through each of its tickets. */
export interface CombinedVerdict extends VerdictRecord {
  /** Per ticket, the verdict that stands for it (only when some verdict came through a ticket). */
  byTicket?: { ticket: string; verdict: Verdict }[];
}

/**
 * The verdict of one revision from the newest record of each channel: a
 * verdict given to the revision itself speaks for all its tickets, one given
 * through a ticket for that ticket only, and for each ticket the newer word
 * stands. With tickets in play the revision is bad when any ticket is bad,
 * needs testing while any ticket does, untestable when every ticket is, and
 * ok otherwise: ok only when all its tickets are. `tickets` are the ids its
 * message references; tickets that verdicts came through count as well.
 * Undefined when nothing was recorded.
 */
export function combineVerdicts(channels: readonly ChannelRecord[], tickets: readonly string[]): CombinedVerdict | undefined {
  if (channels.length === 0) return undefined;
  const newest = (a: ChannelRecord | undefined, b: ChannelRecord | undefined) => (!a ? b : !b ? a : a.id >= b.id ? a : b);
  let direct: ChannelRecord | undefined;
  const perTicket = new Map<string, ChannelRecord>();
  for (const r of channels) {
    if (r.ticket === null) direct = newest(direct, r);
    else perTicket.set(r.ticket, newest(perTicket.get(r.ticket), r)!);
  }
  if (perTicket.size === 0) return restated(direct!, direct!.verdict);
  const all = [...new Set([...tickets, ...perTicket.keys()])];
  const standing = all.map((ticket) => ({ ticket, record: newest(direct, perTicket.get(ticket)) }));
  const verdictOf = (s: (typeof standing)[number]): Verdict => s.record?.verdict ?? "needstesting";
  const byTicket = standing.map((s) => ({ ticket: s.ticket, verdict: verdictOf(s) }));
  const pick = (v: Verdict) => standing.find((s) => verdictOf(s) === v);
  const deciding = pick("bad") ?? pick("needstesting") ?? pick("ok") ?? standing[0]!;
  const latest = standing.reduce<ChannelRecord | undefined>((a, s) => newest(a, s.record), undefined)!;
  const verdict: Verdict = verdictOf(deciding);
  // Who said it: the record that decided, or the newest one when a ticket has no record yet.
  const by = deciding.record ?? latest;
  return restated(by, verdict, byTicket);
}

/**
 * `r` told as a verdict record of its own saying `verdict`: the commit and
 * verdict set, who gave it, when and its note read from `r` when asked (a
 * stored record may read those only then), and `byTicket` when given.
 */
function restated(r: VerdictRecord, verdict: Verdict, byTicket?: CombinedVerdict["byTicket"]): CombinedVerdict {
  const out = { sha: r.sha, verdict } as CombinedVerdict;
  Object.defineProperties(out, {
    user: { get: () => r.user, enumerable: true },
    at: { get: () => r.at, enumerable: true },
    note: { get: () => r.note ?? null, enumerable: true },
  });
  if (byTicket) out.byTicket = byTicket;
  return out;
}

/**
 * Which of the revisions referencing a ticket (oldest first) a verdict given
 * through it records on: all of them, except that no verdict but bad clears
 * a revision that stands bad for the ticket when the verdict also covers a
 * later revision. QA tried the ticket with that later landing in; recorded,
 * an ok would free the bad revision to go out alone, ahead of the landing
 * that fixed it (and a needstesting would forget the bad, for the next ok to
 * do the same). Such a revision stays bad until it is rolled back or judged
 * on its own (`prodgate qa ok rN`).
 */
export function ticketVerdictTargets<T>(
  revisions: readonly T[],
  verdict: Verdict,
  standsBad: (revision: T) => boolean,
): { record: T[]; keptBad: T[] } {
  const record: T[] = [];
  const keptBad: T[] = [];
  revisions.forEach((r, i) => {
    if (verdict !== "bad" && i < revisions.length - 1 && standsBad(r)) keptBad.push(r);
    else record.push(r);
  });
  return { record, keptBad };
}

/** Does a revision whose verdict is `record` stand bad for `ticket` (through it, or by a verdict given to the revision itself)? */
export function standsBadFor(record: CombinedVerdict | VerdictRecord | undefined, ticket: string): boolean {
  if (!record) return false;
  const through = (record as CombinedVerdict).byTicket?.find((t) => t.ticket === ticket);
  return (through ? through.verdict : record.verdict) === "bad";
}

/** Where a verdict recorded late stands: as given, through some tickets of the revision only, or nowhere. */
export type LateStanding = { as: "given" } | { as: "tickets"; tickets: string[]; overtaken: string[] } | { as: "overtaken" };

/**
 * Where a verdict recorded late still stands. A verdict tag whose
 * post-receive never recorded it is recorded by `sync`, after verdicts QA
 * gave meanwhile (`later`: those recorded on the revision since the tag was
 * accepted); it speaks as of its acceptance, so each of them stays newer:
 * - through ticket t: overtaken when a later verdict was given to the
 *   revision itself or through t; else recorded as given;
 * - to the revision itself: overtaken when a later verdict was given to the
 *   revision itself; else, when later verdicts came through some tickets,
 *   it stands for the revision's other tickets only (`tickets`, the ids its
 *   message references and those verdicts came through), recorded through
 *   each of them — or nowhere, when there is none; else recorded as given.
 */
export function lateVerdictStanding(
  lateTicket: string | null,
  later: readonly { ticket: string | null }[],
  tickets: readonly string[],
): LateStanding {
  if (later.some((r) => r.ticket === null || r.ticket === lateTicket)) return { as: "overtaken" };
  if (later.length === 0 || lateTicket !== null) return { as: "given" };
  const overtaken = [...new Set(later.map((r) => r.ticket!))];
  const rest = [...new Set(tickets)].filter((t) => !overtaken.includes(t));
  return rest.length === 0 ? { as: "overtaken" } : { as: "tickets", tickets: rest, overtaken };
}
