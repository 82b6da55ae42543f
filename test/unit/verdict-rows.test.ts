// Store.verdictRows reads who, when and why of its rows at their first use:
// rows recorded in between, in the same process, change nothing it tells.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verdictsFor } from "../../src/engine/tickets";
import { DEFAULT_TICKET_PATTERNS } from "../../src/policy/tickets";
import { Store } from "../../src/store/store";

let dir: string;
let store: Store;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "prodgate-verdict-rows-"));
  store = Store.open(join(dir, "state.db"), { create: true });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const A = "a".repeat(40);
const B = "b".repeat(40);

function stored(): unknown[] {
  return store.db.prepare("SELECT id, sha, verdict, user, at, note, ticket FROM verdicts ORDER BY id").all();
}

describe("verdict rows read before their details are used", () => {
  it("keep the details of their own rows when verdicts on the same commits are recorded before the first use", () => {
    store.recordVerdicts([{ sha: A, verdict: "ok", note: "first" }], "quinn", "test");
    store.recordVerdicts([{ sha: B, verdict: "bad", ticket: "7", note: "by ticket" }], "qa2", "test");
    const then = stored();
    const read = store.verdictRows([B, A, B]);
    const engine = { store, config: { ticketPatterns: DEFAULT_TICKET_PATTERNS.map((p) => new RegExp(p, "g")) } } as unknown as Parameters<
      typeof verdictsFor
    >[0];
    const combined = verdictsFor(engine, [
      { sha: A, message: "a" },
      { sha: B, message: "b [bug=7] [bug=8]" },
    ]);
    // Newer words on both commits, by others, with other notes, before anything above is asked who or when.
    store.recordVerdicts(
      [
        { sha: A, verdict: "bad", note: "later" },
        { sha: B, verdict: "ok", ticket: "7", note: "later too" },
      ],
      "qa3",
      "test",
    );
    expect(stored()).toHaveLength(4);
    expect(JSON.parse(JSON.stringify(read.sort((x, y) => x.id - y.id)))).toEqual(then);
    expect(read.map((r) => [r.user, r.note])).toEqual([
      ["quinn", "first"],
      ["qa2", "by ticket"],
    ]);
    // Combined (B through ticket 7 of its two) or not, each tells the row that decided it then.
    const [rowA, rowB] = then as { user: string; at: string; note: string }[];
    const a = combined.get(A)!;
    expect([a.verdict, a.user, a.at, a.note]).toEqual(["ok", rowA!.user, rowA!.at, rowA!.note]);
    expect(JSON.parse(JSON.stringify(a))).toMatchObject({ verdict: "ok", user: rowA!.user, at: rowA!.at, note: rowA!.note });
    expect(JSON.parse(JSON.stringify(combined.get(B)))).toEqual({
      sha: B,
      verdict: "bad",
      user: rowB!.user,
      at: rowB!.at,
      note: rowB!.note,
      byTicket: [
        { ticket: "7", verdict: "bad" },
        { ticket: "8", verdict: "needstesting" },
      ],
    });
  });

  it("cannot be changed or deleted, nor can CI results: the details read later are the row's", () => {
    store.recordVerdicts([{ sha: A, verdict: "ok", note: "staging" }], "quinn", "test");
    store.recordCi(A, "pass", "cid", "test");
    const before = stored();
    for (const sql of [
      "UPDATE verdicts SET user = 'mallory'",
      "UPDATE verdicts SET verdict = 'bad'",
      "DELETE FROM verdicts",
      "UPDATE ci_results SET result = 'fail'",
      "DELETE FROM ci_results",
    ])
      expect(() => store.db.exec(sql), sql).toThrow(/never changed/);
    expect(stored()).toEqual(before);
    expect(store.db.prepare("SELECT result FROM ci_results").pluck().all()).toEqual(["pass"]);
  });
});
