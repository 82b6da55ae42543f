// Events' ids are random version-4 UUIDs, drawn without loading node:crypto
// (a verdict push writes events, and loading it costs a hook about 4 ms).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { Store } from "../../src/store/store";

let dir: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "prodgate-event-ids-"));
  store = Store.open(join(dir, "state.db"), { create: true });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

it("each event gets its own random version-4 UUID", () => {
  const records = Array.from({ length: 100 }, (_, i) => ({ sha: i.toString(16).padStart(40, "0"), verdict: "bad" as const }));
  store.recordVerdicts(records, "quinn", "test");
  store.recordVerdicts([{ sha: "f".repeat(40), verdict: "ok" }], "quinn", "test");
  const uids = store.db.prepare("SELECT uid FROM events").pluck().all() as string[];
  // verdict.recorded and verdict.bad for each bad one, verdict.recorded for the ok.
  expect(uids).toHaveLength(201);
  for (const uid of uids) expect(uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(new Set(uids).size).toBe(uids.length);
});
