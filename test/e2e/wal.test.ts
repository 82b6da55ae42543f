// The hooks exit without closing the database. Each new process reads the
// whole write-ahead log when it opens, and SQLite never starts the log afresh
// in that pattern, so the hooks fold a long log into the database as they
// exit, without ever waiting for it.
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

const LOG_TRIM_BYTES = 1 << 20;

let sb: Sandbox;
let work: Clone;
let db: string;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  db = join(sb.bare, "prodgate", "state.db");
});
afterEach(() => sb.cleanup());

const logSize = () => statSync(`${db}-wal`, { throwIfNoEntry: false })?.size ?? 0;

/** Writes about 3 MB through the log in another process that exits without closing, as a hook does; nothing stays in the database. */
function growLog(): void {
  const script = `
    const Database = require(${JSON.stringify(require.resolve("better-sqlite3"))});
    const db = new Database(${JSON.stringify(db)});
    db.pragma("journal_mode = WAL");
    db.transaction(() => {
      db.exec("CREATE TABLE scratch (x)");
      const insert = db.prepare("INSERT INTO scratch VALUES (?)");
      for (let i = 0; i < 300; i++) insert.run(Buffer.alloc(10000, i));
      db.exec("DROP TABLE scratch");
    })();
    process.exit(0);`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}

function develPush(message: string): void {
  work.commit(message);
  const r = work.push(["origin", "HEAD:devel"], "dev");
  expect(r.status, r.output).toBe(0);
}

describe("the write-ahead log", () => {
  it("is folded into the database by the next hook once it is long", () => {
    develPush("r2");
    growLog();
    expect(logSize()).toBeGreaterThan(LOG_TRIM_BYTES);
    develPush("r3");
    expect(logSize()).toBeLessThan(LOG_TRIM_BYTES);
    // Nothing lost: both pushes are in the audit log, and the schema is whole.
    const r = sb.prodgate(["log", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("refs/heads/devel");
    expect(sb.prodgate(["doctor"]).status).toBe(0);
  });

  it("is left as it is, without waiting, while someone reads the database; the next hook folds it", () => {
    develPush("r2");
    growLog();
    const reader = new Database(db, { readonly: true });
    try {
      reader.exec("BEGIN");
      reader.prepare("SELECT count(*) FROM audit").get();
      develPush("r3");
      // The reader's snapshot keeps the log: the push went on without folding it.
      expect(logSize()).toBeGreaterThan(LOG_TRIM_BYTES);
      reader.exec("COMMIT");
    } finally {
      reader.close();
    }
    develPush("r4");
    expect(logSize()).toBeLessThan(LOG_TRIM_BYTES);
  });
});
