// A developer with push access and no role tries to take a security fix's change off
// production-stable through approved stable content: the fix's file mode, a submodule the fix
// bumped, a file moved away, names git stores as bytes. Every attempt is a real push through the
// installed hooks; QA approves each revision, as it would a change it cannot see into.
import Database from "better-sqlite3";
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../src/store/schema";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}\n`).join("");
const BASE = lines(1, 20);
const FIXED = lines(1, 10) + "check()\n" + lines(11, 20);
let work: Clone;

const OLD_LIB = "1".repeat(40);
const NEW_LIB = "2".repeat(40);

/** Commit what the index holds now. */
function commitIndex(message: string): string {
  work.git(["commit", "--quiet", "-m", message]);
  work.git(["reset", "--quiet", "--hard"]);
  return work.sha("HEAD");
}

/** Put `content` in the index at `path`, a name given as printf(1) would write it (so any bytes). */
function stage(mode: string, content: string, path: string): void {
  const blob = sb.git(["hash-object", "-w", "--stdin"], { cwd: work.dir, input: content });
  const r = sb.run("sh", ["-c", `git update-index --add --cacheinfo "${mode},$1,$(printf "$2")"`, "sh", blob, path], { cwd: work.dir });
  expect(r.status, r.stderr).toBe(0);
}

/** Land the current branch on devel and stable; the new stable tip. */
function land(): string {
  work.land();
  return sb.tip("stable")!;
}

/**
 * r2 lays out the files (`prepare`), deployed; the security team then promotes `makeFix`'s commit,
 * which devel takes back by a fast-forward (r3). Returns the fix.
 */
function promote(prepare: () => void, makeFix: () => string): string {
  prepare();
  land();
  expect(sb.prodgate(["qa", "ok", "r1", "r2"], "quinn").stdout).toContain("production-stable moved to r2");
  work.git(["fetch", "--quiet", "origin"]);
  work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
  const fix = makeFix();
  expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
  expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
  expect(work.push(["origin", "secfix:production-stable"], "sam").output).toContain("recorded 1 security fix");
  work.git(["checkout", "--quiet", "devel"]);
  work.git(["merge", "--quiet", "--ff-only", "secfix"]);
  land();
  expect(sb.prodgate(["qa", "ok", "r3"], "quinn").status).toBe(0);
  expect(sb.tip("production-stable")).toBe(fix);
  return fix;
}

/** The developer's revision r4, approved: production-stable must not take it, by the mirror or by a push. */
function expectHeldBefore(fix: string, r4: string): void {
  const qa = sb.prodgate(["qa", "ok", "r4"], "quinn");
  expect(qa.stdout).toContain(`r4 ${r4.slice(0, 7)} drops the change of security fix ${fix.slice(0, 7)}`);
  expect(sb.tip("production-stable")).toBe(fix);
  const push = work.push(["origin", `${r4}:refs/heads/production-stable`], "dev");
  expect(push.status).not.toBe(0);
  expect(push.output).toContain("[drops-fix]");
  expect(sb.tip("production-stable")).toBe(fix);
}

beforeEach(() => {
  ({ sb, work } = standardSandbox());
});
afterEach(() => sb.cleanup());

describe("a fix that changed a file's mode", () => {
  it("a revision that gives the old mode back is held before", () => {
    const fix = promote(
      () => {
        work.commit("r2: script", { "run.cgi": "#!/bin/sh\necho hi\n" });
        chmodSync(join(work.dir, "run.cgi"), 0o755);
        work.git(["add", "run.cgi"]);
        work.git(["commit", "--quiet", "--amend", "--no-edit"]);
      },
      () => {
        chmodSync(join(work.dir, "run.cgi"), 0o644);
        work.git(["add", "run.cgi"]);
        return commitIndex("Fix: run.cgi is not executable");
      },
    );
    chmodSync(join(work.dir, "run.cgi"), 0o755);
    work.git(["add", "run.cgi"]);
    expectHeldBefore(fix, (commitIndex("r4: make run.cgi executable again"), land()));
    // Its mode back as the fix left it, with a new line in the script: taken.
    chmodSync(join(work.dir, "run.cgi"), 0o644);
    const r5 = (work.commit("r5: say more", { "run.cgi": "#!/bin/sh\necho hi\necho there\n" }), land());
    expect(sb.prodgate(["qa", "ok", "r5"], "quinn").stdout).toContain("production-stable moved to r5");
    expect(sb.tip("production-stable")).toBe(r5);
  });
});

describe("a fix that bumped a submodule", () => {
  it("a revision that puts the old commit back is held before", () => {
    const fix = promote(
      () => {
        work.git(["update-index", "--add", "--cacheinfo", `160000,${OLD_LIB},vendor/lib`]);
        commitIndex("r2: vendor lib");
      },
      () => {
        work.git(["update-index", "--cacheinfo", `160000,${NEW_LIB},vendor/lib`]);
        return commitIndex("Fix: vendor lib with the patched parser");
      },
    );
    work.git(["update-index", "--cacheinfo", `160000,${OLD_LIB},vendor/lib`]);
    expectHeldBefore(fix, (commitIndex("r4: back to the old lib"), land()));
    work.git(["update-index", "--cacheinfo", `160000,${NEW_LIB},vendor/lib`]);
    const r5 = (commitIndex("r5: the patched lib again"), land());
    expect(sb.prodgate(["qa", "ok", "r5"], "quinn").stdout).toContain("production-stable moved to r5");
    expect(sb.tip("production-stable")).toBe(r5);
  });
});

describe("a database whose fixes were verified held by the check before submodules and modes", () => {
  it("measures every fix from itself again: a dropped submodule fix the old check let through holds later moves", () => {
    const fix = promote(
      () => {
        work.git(["update-index", "--add", "--cacheinfo", `160000,${OLD_LIB},vendor/lib`]);
        commitIndex("r2: vendor lib");
      },
      () => {
        work.git(["update-index", "--cacheinfo", `160000,${NEW_LIB},vendor/lib`]);
        return commitIndex("Fix: vendor lib with the patched parser");
      },
    );
    // As the old check left it: production-stable moved onto the revert, and the fix taken as held there.
    work.git(["update-index", "--cacheinfo", `160000,${OLD_LIB},vendor/lib`]);
    const r4 = (commitIndex("r4: back to the old lib"), land());
    expect(sb.prodgate(["qa", "ok", "r4"], "quinn").status).toBe(0);
    expect(work.push(["-o", "prodgate.override=incident 9", "origin", `${r4}:refs/heads/production-stable`], "ada").status).toBe(0);
    const reset = MIGRATIONS.findIndex((m) => m.includes("SET held_at = NULL"));
    expect(reset).toBeGreaterThan(0);
    const db = new Database(join(sb.bare, "prodgate", "state.db"));
    db.prepare("UPDATE fixes SET held_at = ?").run(r4);
    db.pragma(`user_version = ${reset}`);
    db.close();
    work.commit("r5: unrelated", { "other.c": "x\n" });
    const r5 = land();
    expect(sb.prodgate(["qa", "ok", "r5"], "quinn").stdout).toContain(
      `r5 ${r5.slice(0, 7)} drops the change of security fix ${fix.slice(0, 7)}`,
    );
    expect(sb.tip("production-stable")).toBe(r4);
  });
});

describe("a fix in a text file", () => {
  const fixLib = () =>
    promote(
      () => void work.commit("r2: lib", { "lib.c": BASE }),
      () => work.commit("Fix auth bypass", { "lib.c": FIXED }),
    );

  it("replaced by a symbolic link whose target reads as the fixed file: held before", () => {
    const fix = fixLib();
    stage("120000", FIXED, "lib.c");
    expectHeldBefore(fix, (commitIndex("r4: lib.c is a link now"), land()));
  });

  it("moved to another name: held before (the change is no longer where the fix made it) until the fix is retired", () => {
    const fix = fixLib();
    work.git(["mv", "lib.c", "auth.c"]);
    const r4 = (commitIndex("r4: rename lib.c"), land());
    expectHeldBefore(fix, r4);
    expect(sb.prodgate(["security", "retire", fix, "--reason", "moved to auth.c"], "sam").stdout).toContain(
      "production-stable moved to r4",
    );
  });

  it("turned into a directory holding the fixed file: held before", () => {
    const fix = fixLib();
    work.git(["rm", "--quiet", "lib.c"]);
    work.commit("r4: lib.c is a directory", { "lib.c/lib.c": FIXED });
    expectHeldBefore(fix, land());
  });
});

describe("a fix in a file whose name is not UTF-8", () => {
  const NAME = "caf\\351.c";
  const fixLatin1 = () =>
    promote(
      () => {
        stage("100644", BASE, NAME);
        commitIndex("r2: lib");
      },
      () => {
        stage("100644", FIXED, NAME);
        return commitIndex("Fix auth bypass");
      },
    );

  it("an unrelated change to the file is deployed", () => {
    fixLatin1();
    stage("100644", "header\n" + FIXED, NAME);
    const r4 = (commitIndex("r4: a header"), land());
    expect(sb.prodgate(["qa", "ok", "r4"], "quinn").stdout).toContain("production-stable moved to r4");
    expect(sb.tip("production-stable")).toBe(r4);
  });

  it("reverted, with the fixed file beside it under a name git reads alike: held before", () => {
    const fix = fixLatin1();
    stage("100644", BASE, NAME);
    stage("100644", FIXED, "caf\\377.c");
    expectHeldBefore(fix, (commitIndex("r4: a decoy"), land()));
  });
});

describe("the cost of a held revision", () => {
  const FILES = 60;
  const name = (i: number) => `src/f${String(i).padStart(3, "0")}.c`;
  const all = (text: string) => Object.fromEntries(Array.from({ length: FILES }, (_, i) => [name(i), text]));

  /** r4 drops the fix (`dropping`), r5..r13 are unrelated, all approved; then a developer's [no-qa] push: its post-receive's git processes. */
  function heldPush(dropping: Record<string, string>): number {
    const fix = promote(
      () => void work.commit("r2: many files", all(BASE)),
      () => work.commit("Fix: check everywhere", all(FIXED)),
    );
    work.commit("r4: drops the fix in the last file", dropping);
    for (let r = 5; r <= 13; r++) work.commit(`r${r}: unrelated`, { [`u${r}.c`]: `${r}\n` });
    land();
    const qa = sb.prodgate(["qa", "ok", "r4..r13"], "quinn");
    expect(qa.stdout).toContain(`drops the change of security fix ${fix.slice(0, 7)}`);
    expect(sb.tip("production-stable")).toBe(fix);
    // A developer's [no-qa] revision pushed to stable runs the mirror: it tries r14 and the 8 approved
    // revisions before it, each dropping the fix; the developer can push such a revision as often as they like.
    const trace = join(sb.root, "trace");
    work.commit("r14: unrelated [no-qa]", { "u14.c": "14\n" });
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    const push = work.push(["origin", "HEAD:stable"], "dev", { PRODGATE_TRACE: trace });
    expect(push.output).toContain("drops the change of security fix");
    expect(sb.tip("production-stable")).toBe(fix);
    const last = readFileSync(trace, "utf8").trim().split("\n").at(-1)!;
    return Number(/^post-receive \d+ms git=(\d+)/.exec(last)![1]);
  }

  it("a fix touching many files, its last one reverted: the nine revisions tried cost a few git processes each", () => {
    expect(heldPush({ [name(FILES - 1)]: BASE })).toBeLessThan(60);
  });

  it("every file of the fix edited, the last one dropping it: each file is merged once, not once per revision tried", () => {
    const edited = Object.fromEntries(
      Array.from({ length: FILES }, (_, i) => [name(i), `// edited ${i}\n${i === FILES - 1 ? BASE : FIXED}`]),
    );
    // Four git processes per file (three blobs read, one merge), once.
    expect(heldPush(edited)).toBeLessThan(4 * FILES + 60);
  });
});

describe("merge-back of a fix that bumped a submodule", () => {
  it("a cherry-pick trailer naming it, on a commit that leaves the old submodule commit, is no return", () => {
    work.git(["update-index", "--add", "--cacheinfo", `160000,${OLD_LIB},vendor/lib`]);
    commitIndex("r2: vendor lib");
    land();
    expect(sb.prodgate(["qa", "ok", "r1", "r2"], "quinn").stdout).toContain("production-stable moved to r2");
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
    work.git(["update-index", "--cacheinfo", `160000,${NEW_LIB},vendor/lib`]);
    const fix = commitIndex("Fix: vendor lib with the patched parser");
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
    expect(work.push(["origin", "secfix:production-stable"], "sam").output).toContain("recorded 1 security fix");
    work.git(["checkout", "--quiet", "devel"]);
    work.commit(`Pick the parser fix\n\n(cherry picked from commit ${fix})`, { "notes.txt": "picked\n" });
    const push = work.push(["origin", "HEAD:devel"], "dev");
    expect(push.status).toBe(0);
    const [f] = sb.json<{ sha: string; devel: unknown }[]>(["security"]);
    expect(f).toMatchObject({ sha: fix, devel: null });
  });
});
