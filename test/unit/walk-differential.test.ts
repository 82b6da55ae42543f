// The walk of stable was made faster: markers ruled out by one scan, tickets
// parsed only when asked, verdicts kept newest per channel in JavaScript, a
// single verdict given to a revision passed through as it is. Over generated
// messages (markers in every case, spacing and look-alike), verdict histories
// (direct and through several tickets, needstesting after ok) and marker
// trust, the faster walk decides exactly as the walk before it did.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ticketLookup, verdictsFor } from "../../src/engine/tickets";
import * as now from "../../src/policy/deployable";
import { combineVerdicts, DEFAULT_TICKET_PATTERNS, ticketRefs } from "../../src/policy/tickets";
import type { MainlineCommit, Verdict, VerdictRecord } from "../../src/policy/types";
import { Store } from "../../src/store/store";
import * as before from "./before/deployable";
import * as beforeParse from "./before/parse";
import { parseCommits } from "../../src/git/parse";

/** A small deterministic generator (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]! };
}

const FRAGMENTS = [
  "[no-qa]",
  "[NO-QA]",
  "[No-Qa]",
  "[testfix]",
  "[TestFix]",
  "[ no-qa]",
  "[no-qa ]",
  "[no_qa]",
  "[noqa]",
  "[incr]",
  "[INCR]",
  "[incremental]",
  "[Incremental]",
  "[incrementa]",
  "[incr ]",
  "[rollback=r2]",
  "[rollback=3]",
  "[ROLLBACK=R4]",
  "[rollback= 2 ]",
  "[Rollback=\tr5\t]",
  "[rollback =2]",
  "[rollback=]",
  "[rollback=zz]",
  "[bug=7]",
  "[bug=8]",
  "[bugs=7, 9]",
  "Fixes #8",
  "LP: #9",
  // Unicode look-alikes: no case folding of /i without u maps them to ASCII.
  "[\u0131ncr]",
  "[\u0130NCR]",
  "[no-q\u0251]",
  "[te\u017Ftfix]",
  "[ro\u029Fback=2]",
  "[\u212Aincr]",
  "\uFF3Bincr\uFF3D",
  "[no\u2010qa]",
  "[",
  "]",
  "incr",
  "fix the thing",
  "\n",
  " ",
];

const patterns = DEFAULT_TICKET_PATTERNS.map((p) => new RegExp(p, "g"));

function message(r: ReturnType<typeof rng>): string {
  const parts: string[] = [];
  for (let i = r.int(5); i >= 0; i--) parts.push(r.pick(FRAGMENTS));
  return parts.join(r.pick(["", " ", "\n"]));
}

function segment(r: ReturnType<typeof rng>, n: number): MainlineCommit[] {
  return Array.from({ length: n }, (_, i) => {
    const revno = i + 1;
    const msg = message(r);
    const sha = (revno.toString(16).padStart(4, "0") + "abcdef").repeat(5).slice(0, 40);
    return { sha, revno, parents: r.int(8) === 0 ? ["p1", "p2"] : ["p1"], subject: msg.split("\n")[0]!, message: msg };
  });
}

describe("markers, after the one-scan prefilter", () => {
  it("are found in exactly the messages the full patterns find them in", () => {
    const r = rng(1);
    for (let i = 0; i < 20_000; i++) {
      const m = message(r);
      expect(now.carriesTrustedMarker(m), m).toBe(before.carriesTrustedMarker(m));
      expect(now.rollbackTargets(m), m).toEqual(before.rollbackTargets(m));
      expect(now.carriesNoQaMarker(m), m).toBe(before.carriesNoQaMarker(m));
    }
  });
});

describe("the walk of stable, before and after it was made faster", () => {
  let dir: string;
  let store: Store;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "prodgate-walk-"));
    store = Store.open(join(dir, "state.db"), { create: true });
    // Each round starts from no verdicts: a test database may forget them, a real one never does.
    store.db.exec("DROP TRIGGER verdicts_no_delete");
  });
  afterAll(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The verdicts as the walk read them before: SQLite kept the newest per channel, every commit's tickets parsed. */
  function verdictsBefore(commits: MainlineCommit[]): Map<string, VerdictRecord> {
    const rows = store.db
      .prepare(
        `SELECT v.id, v.sha, v.verdict, v.user, v.at, v.note, v.ticket FROM verdicts AS v
         WHERE v.id IN (SELECT max(id) FROM verdicts WHERE sha IN (SELECT value FROM json_each(?)) GROUP BY sha, ticket)
         ORDER BY v.id`,
      )
      .all(JSON.stringify(commits.map((c) => c.sha))) as (VerdictRecord & { id: number; ticket: string | null })[];
    const channels = new Map<string, typeof rows>();
    for (const row of rows) channels.set(row.sha, [...(channels.get(row.sha) ?? []), row]);
    const tickets = new Map(commits.map((c) => [c.sha, ticketRefs(c.message, patterns)]));
    const result = new Map<string, VerdictRecord>();
    for (const [sha, records] of channels) {
      const combined = combineVerdicts(records, tickets.get(sha) ?? []);
      if (combined) result.set(sha, combined);
    }
    return result;
  }

  const summary = (w: now.DeployableResult | before.DeployableResult) => ({
    deployable: w.deployable?.revno ?? null,
    blocker: w.blocker ? `${w.blocker.commit.revno} ${w.blocker.reason}` : null,
    candidates: w.candidates.map((c) => c.revno),
    entries: w.entries.map((e) => ({
      verdict: e.verdict,
      source: e.source,
      record: e.record ? { verdict: e.record.verdict, user: e.record.user, at: e.record.at, note: e.record.note ?? null } : null,
      byTicket: (e.record as { byTicket?: unknown } | undefined)?.byTicket ?? null,
      qaWith: e.qaWith?.map((c) => c.revno) ?? null,
      incrIgnored: e.incrIgnored ?? false,
      held: e.heldForRollback ?? false,
      rolledBackBy: e.rolledBackBy?.revno ?? null,
    })),
  });

  it("decides the same over generated segments, verdict histories and marker trust", () => {
    const r = rng(7);
    const verdicts: Verdict[] = ["ok", "bad", "needstesting", "untestable"];
    for (let round = 0; round < 400; round++) {
      store.db.exec("DELETE FROM verdicts");
      const commits = segment(r, 1 + r.int(7));
      for (let i = r.int(10); i > 0; i--) {
        const c = r.pick(commits);
        store.recordVerdicts(
          [
            {
              sha: c.sha,
              verdict: r.pick(verdicts),
              ticket: r.pick([null, null, "7", "8", "9"]),
              note: r.pick([null, "tried on staging", "n2"]),
            },
          ],
          r.pick(["quinn", "qa2", "qa3"]),
          "test",
        );
      }
      const markers: now.MarkerTrust =
        r.int(2) === 0
          ? "anyone"
          : new Map(commits.filter(() => r.int(2) === 0).map((c) => [c.sha, { user: r.pick(["lead", "dev"]), role: "lead" }] as const));
      const engine = { store, config: { ticketPatterns: patterns } } as unknown as Parameters<typeof verdictsFor>[0];
      const lookup = ticketLookup({ ticketPatterns: patterns }, commits);
      const after = now.deployableRevision({
        segment: commits,
        base: null,
        verdicts: verdictsFor(engine, commits, lookup),
        markers,
        tickets: lookup,
      });
      const old = before.deployableRevision({
        segment: commits,
        base: null,
        verdicts: verdictsBefore(commits),
        markers: markers as before.MarkerTrust,
        tickets: new Map(commits.map((c) => [c.sha, ticketRefs(c.message, patterns)])),
      });
      const seen = summary(after);
      const expected = summary(old);
      // The faster walk sets an entry's tickets only around an [incr] marker (status reads the rest from DeployState.tickets).
      expect(seen, JSON.stringify(commits.map((c) => c.message))).toEqual(expected);
    }
  });

  it("reads who, when and why of each verdict at first use, the same as the row holds", () => {
    store.db.exec("DELETE FROM verdicts");
    const shas = ["a".repeat(40), "b".repeat(40), "c".repeat(40)];
    store.recordVerdicts([{ sha: shas[0]!, verdict: "ok", note: "first" }], "quinn", "test");
    store.recordVerdicts([{ sha: shas[1]!, verdict: "bad" }], "qa2", "test");
    store.recordVerdicts([{ sha: shas[0]!, verdict: "untestable", ticket: "7", note: "by ticket" }], "qa3", "test");
    const stored = store.db.prepare("SELECT id, sha, verdict, user, at, note, ticket FROM verdicts ORDER BY id").all();
    // Asked twice, the rows given in another order: each row keeps its own details.
    const read = store.verdictRows([shas[2]!, shas[1]!, shas[0]!, shas[1]!]).sort((a, b) => a.id - b.id);
    expect(JSON.parse(JSON.stringify(read))).toEqual(stored);
    expect(read.map((v) => [v.user, v.at, v.note])).toEqual(
      stored.map((v) => [(v as VerdictRecord).user, (v as VerdictRecord).at, (v as VerdictRecord).note]),
    );
    // A combined verdict tells the details of the record that decided it, spread or serialised alike.
    const engine = { store, config: { ticketPatterns: patterns } } as unknown as Parameters<typeof verdictsFor>[0];
    const combined = verdictsFor(engine, [{ sha: shas[0]!, message: "x [bug=7]" }]).get(shas[0]!)!;
    expect({ ...combined }).toEqual({
      sha: shas[0],
      verdict: "untestable",
      user: "qa3",
      at: combined.at,
      note: "by ticket",
      byTicket: [{ ticket: "7", verdict: "untestable" }],
    });
    expect(JSON.parse(JSON.stringify(combined)).user).toBe("qa3");
  });
});

describe("git log's records, before and after they were cut out by index", () => {
  it("parse to the same commits over generated output", () => {
    const r = rng(11);
    const pieces = ["", "\n", "\n\n", " ", "\r", "\r\n", "\t", "\x1f", "\0", "a", "Fix it", "é", "[no-qa]"];
    const text = (n: number) => Array.from({ length: n }, () => r.pick(pieces)).join("");
    const sha = () => r.pick(["", "a", "0123456789abcdef0123456789abcdef01234567", "x y"]);
    for (let round = 0; round < 3000; round++) {
      const records: string[] = [];
      for (let i = r.int(6); i > 0; i--) {
        const lead = r.pick(["", "", "\n", "\n\n", " "]);
        const mark = r.pick(["", ">", "-", "<", " "]);
        const parents = Array.from({ length: r.int(4) }, sha).join(r.pick([" ", " ", "  "]));
        const fields = r.int(8) === 0 ? [mark + sha()] : r.int(8) === 0 ? [mark + sha(), parents] : [mark + sha(), parents, text(r.int(8))];
        records.push(lead + fields.join("\x1f") + r.pick(["", "\n", "\n\n", " \n"]));
      }
      const output = records.join("\0") + r.pick(["", "\0", "\0\n", "\n"]);
      expect(parseCommits(output), JSON.stringify(output)).toEqual(beforeParse.parseCommits(output));
    }
  });
});
