// Table-driven tests of what prodgate prints from user text, exact identities,
// and the one-line answers to a full disk and a held mirror lock.
import Database from "better-sqlite3";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { knownFailure } from "../../src/boundary";
import { withMirrorLock } from "../../src/engine/lock";
import { identify, identityProblem } from "../../src/identity";
import { clip, jsonSafe, LINE_MAX, printable, printableLine, printableLines, USER_TEXT_MAX } from "../../src/policy/message";
import { esc } from "../../src/report/html";
import { databaseProblem } from "../../src/store/store";
import { nativeBinding } from "../../src/store/native";

describe("printable", () => {
  it.each([
    ["plain text", "Fix the login page", "Fix the login page"],
    ["C0 controls and DEL", "a\x1b[31mred\x07\x7f", "a?[31mred??"],
    ["C1 controls (U+009B is a CSI)", "x\u009b2J\u0085y\u0080\u009f", "x?2J?y??"],
    ["bidi embeddings and overrides", "a\u202ab\u202bc\u202cd\u202de\u202ef", "a?b?c?d?e?f"],
    ["bidi isolates", "a\u2066b\u2067c\u2068d\u2069", "a?b?c?d?"],
    ["bidi marks", "a\u200eb\u200fc\u061cd", "a?b?c?d"],
    ["line and paragraph separators", "a\u2028b\u2029c", "a?b?c"],
    ["newline and carriage return", "a\nb\rc", "a?b?c"],
    ["zero-width and byte order mark", "a\u200bb\u2060c\ufeffd", "a?b?c?d"],
    ["letters of any script stay", "café ünïcode 日本語 עברית 🙂", "café ünïcode 日本語 עברית 🙂"],
  ])("%s", (_what, input, expected) => {
    expect(printable(input)).toBe(expected);
  });

  it.each([
    [USER_TEXT_MAX, USER_TEXT_MAX],
    [USER_TEXT_MAX + 1, USER_TEXT_MAX],
    [1024 * 1024, USER_TEXT_MAX],
    [10, 10],
  ])("a %i-character text is shown as at most %i characters, an ellipsis when cut", (length, shown) => {
    const out = printable("s".repeat(length));
    expect(out).toHaveLength(shown);
    expect(out.endsWith("…")).toBe(length > USER_TEXT_MAX);
  });

  it("never cuts a surrogate pair in half", () => {
    const text = `${"a".repeat(8)}🙂🙂🙂`;
    const out = clip(text, 10);
    expect(out).toBe(`${"a".repeat(8)}…`);
    expect(clip(text, 11)).toBe(`${"a".repeat(8)}🙂…`);
  });

  it("a line is cut at LINE_MAX, and text of several lines line by line", () => {
    expect(printableLine("x".repeat(LINE_MAX * 3))).toHaveLength(LINE_MAX);
    expect(printableLines("one\u009b\ntwo\u202e")).toBe("one?\ntwo?");
  });
});

describe("the report's esc", () => {
  it.each([
    ["markup", "<b>&'\"", "&lt;b&gt;&amp;&#39;&quot;"],
    ["C1 control", "a\u009bb", "a?b"],
    ["bidi override and isolate", "a\u202eb\u2066c", "a?b?c"],
    ["separators", "a\u2028b", "a?b"],
    ["tab and newline stay", "a\tb\nc", "a\tb\nc"],
  ])("%s", (_what, input, expected) => {
    expect(esc(input)).toBe(expected);
  });
});

describe("jsonSafe", () => {
  it.each([
    ["C1 control", "a\u009bb"],
    ["bidi override", "a\u202eb"],
    ["isolates", "\u2066x\u2069"],
    ["separators", "a\u2028b\u2029"],
    ["DEL", "a\u007fb"],
    ["C0, already escaped by JSON.stringify", "a\u001b\n"],
    ["plain", "hello"],
  ])("%s: escaped as \\uXXXX and parses back to the same value", (_what, value) => {
    const doc = jsonSafe(JSON.stringify({ value, list: [value] }, null, 2));
    expect(doc).not.toMatch(/[\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/);
    expect(JSON.parse(doc)).toEqual({ value, list: [value] });
  });
});

describe("identities are exact", () => {
  const cfg = { identityVars: ["GL_USER", "REMOTE_USER"], identityFallback: "os" as const };
  it.each([
    ["quinn", "quinn"],
    ["quinn@example.com", "quinn@example.com"],
    ["Quinn", "Quinn"],
    [" quinn ", null],
    ["quinn ", null],
    ["\u3000quinn", null],
    ["quinn\u00a0", null],
    ["qu\tinn", null],
    ["quinn\u0085", null],
    ["quinn\u202e", null],
    ["qu\u200binn", null],
    ["quinn\u2028", null],
    ["   ", null],
  ])("GL_USER=%j → %j", (value, who) => {
    expect(identify({ GL_USER: value, REMOTE_USER: "other" }, cfg, () => "osuser")).toBe(who);
    expect(identityProblem({ GL_USER: value }, cfg, () => "osuser") !== null).toBe(who === null);
  });

  it("the operating-system user is held to the same rule", () => {
    expect(identify({}, cfg, () => "os user")).toBeNull();
    expect(identityProblem({}, cfg, () => "os user")).toContain("the operating-system user");
  });
});

describe("the machine's failures in one line", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "prodgate-unit-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a database that cannot grow (SQLITE_FULL) says the disk is full, not 'this is a bug'", () => {
    const path = join(dir, "full.db");
    const db = new Database(path, { nativeBinding: nativeBinding() });
    db.exec("CREATE TABLE t (x TEXT)");
    db.pragma("max_page_count = 3");
    let caught: unknown = null;
    try {
      for (let i = 0; i < 100; i++) db.prepare("INSERT INTO t VALUES (?)").run("x".repeat(4000));
    } catch (err) {
      caught = err;
    }
    db.close();
    expect((caught as { code?: string }).code).toBe("SQLITE_FULL");
    expect(databaseProblem(caught, path)?.message).toMatch(/cannot grow: the disk is full; free space/);
    expect(knownFailure(caught)?.message).toMatch(/disk .* is full/);
  });

  it("a write to a full disk (ENOSPC) says so", () => {
    let caught: unknown = null;
    try {
      writeFileSync("/dev/full", "x");
    } catch (err) {
      caught = err;
    }
    expect((caught as { code?: string }).code).toBe("ENOSPC");
    expect(knownFailure(caught)?.message).toMatch(/disk .* is full .*free space/);
  });

  it("a mirror lock held too long says another mirror run holds it, and what to do", () => {
    mkdirSync(join(dir, "prodgate"));
    const holder = new Database(join(dir, "prodgate", "mirror.lock"), { nativeBinding: nativeBinding() });
    holder.exec("BEGIN EXCLUSIVE");
    try {
      let ran = false;
      expect(() => withMirrorLock(dir, () => (ran = true), 50)).toThrow(
        /another mirror run held the mirror lock .* run prodgate sync later/,
      );
      expect(ran).toBe(false);
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
    expect(withMirrorLock(dir, () => "ran", 50)).toBe("ran");
  });
});
