// Who gave each revision's verdict, when, and with what note: read with the
// walk's verdict rows or at their first use, combined over tickets or not,
// every output names the row that decided, exactly as the database holds it.
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  sb.grant("qa", "qa2");
});
afterEach(() => sb.cleanup());

interface Row {
  id: number;
  sha: string;
  verdict: string;
  user: string;
  at: string;
  note: string | null;
  ticket: string | null;
}

/** The verdict rows as the database holds them, asked directly. */
function rows(): Row[] {
  const db = new Database(join(sb.bare, "prodgate", "state.db"), { readonly: true });
  try {
    return db.prepare("SELECT id, sha, verdict, user, at, note, ticket FROM verdicts ORDER BY id").all() as Row[];
  } finally {
    db.close();
  }
}

function qa(args: string[], user: string): void {
  const r = sb.prodgate(["qa", ...args], user);
  expect(r.status, r.stderr).toBe(0);
}

describe("verdict details", () => {
  it("status and explain name the deciding row's user, time and note for every revision, direct or through tickets", () => {
    const sha: Record<string, string> = { r1: work.sha("HEAD") };
    for (const [r, m] of [
      ["r2", "[bug=5] a"],
      ["r3", "[bug=5] [bug=6] b"],
      ["r4", "plain"],
      ["r5", "[bug=6] [bug=9] c"],
      ["r6", "plain too"],
      ["r7", "[bug=7] [bug=8] d"],
    ] as const)
      sha[r] = work.commit(m);
    work.land();
    // r1 stays untried: nothing goes out, every revision stays listed.
    qa(["ok", "r2", "--note", "direct"], "quinn");
    qa(["bad", "r4", "--note", "broken"], "qa2");
    qa(["ok", "--ticket", "5", "--note", "five"], "qa2");
    qa(["untestable", "r6"], "quinn");
    qa(["ok", "--ticket", "6", "--note", "six"], "quinn");
    qa(["needstesting", "r3", "--note", "again"], "qa2");
    qa(["bad", "--ticket", "7", "--note", "seven"], "qa2");
    qa(["ok", "--ticket", "8", "--note", "eight"], "quinn");
    const all = rows();
    const row = (r: string, ticket: string | null, verdict: string) =>
      all.filter((v) => v.sha === sha[r] && v.ticket === ticket && v.verdict === verdict).at(-1)!;
    const expected: Record<string, Row | null> = {
      r1: null,
      // ok directly, then ok through its only ticket: the ticket's row is the newest word for it.
      r2: row("r2", "5", "ok"),
      // ok through both tickets, then needstesting directly: the direct row speaks for both.
      r3: row("r3", null, "needstesting"),
      r4: row("r4", null, "bad"),
      // ok through one ticket, the other untried: it needs testing, told by the newest row.
      r5: row("r5", "6", "ok"),
      r6: row("r6", null, "untestable"),
      // bad through one ticket, then ok through the other: the bad row decides, not the newer one.
      r7: row("r7", "7", "bad"),
    };
    for (const e of Object.values(expected)) if (e) expect(e.id).toBeGreaterThan(0);

    const status = sb.json<{
      undeployed: { sha: string; revno: number; verdict: string; by: string | null; at: string | null; note: string | null }[];
    }>(["status"]);
    expect(status.undeployed.map((u) => u.sha)).toEqual(Object.keys(expected).map((r) => sha[r]));
    for (const u of status.undeployed) {
      const e = expected[`r${u.revno}`]!;
      expect({ by: u.by, at: u.at, note: u.note }, `r${u.revno}`).toEqual(
        e ? { by: e.user, at: e.at, note: e.note } : { by: null, at: null, note: null },
      );
    }
    expect(status.undeployed.map((u) => u.verdict)).toEqual([
      "needstesting",
      "ok",
      "needstesting",
      "bad",
      "needstesting",
      "untestable",
      "bad",
    ]);

    // qa pending --by-ticket lists the same details, each revision under each of its tickets.
    const groups = sb.json<
      { ticket: string | null; revisions: { revno: number; by: string | null; at: string | null; note: string | null }[] }[]
    >(["qa", "pending", "--by-ticket"]);
    const listed = groups.flatMap((g) => g.revisions);
    expect(new Set(listed.map((p) => p.revno))).toEqual(new Set([1, 3, 5]));
    for (const p of listed) {
      const e = expected[`r${p.revno}`]!;
      expect({ by: p.by, at: p.at, note: p.note }, `r${p.revno}`).toEqual(
        e ? { by: e.user, at: e.at, note: e.note } : { by: null, at: null, note: null },
      );
    }

    for (const [r, e] of Object.entries(expected)) {
      if (!e) continue;
      const explained = JSON.parse(sb.prodgate(["explain", r, "--json"]).stdout) as {
        verdict: { by: string | null; at?: string; note?: string | null };
      };
      expect(explained.verdict.by, r).toBe(e.user);
    }
  }, 60_000);
});
