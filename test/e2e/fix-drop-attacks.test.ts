// A developer with push access and no role tries to take a security fix's change off
// production-stable through approved stable content: the fix's file mode, a submodule the fix
// bumped, a file moved away, names git stores as bytes. Every attempt is a real push through the
// installed hooks; QA approves each revision, as it would a change it cannot see into.
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

const OLD_LIB = "1".repeat(40);
const NEW_LIB = "2".repeat(40);

/** Commit what the index holds now. */
function commitIndex(message: string): string {
  work.git(["commit", "--quiet", "-m", message]);
  return work.sha("HEAD");
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
