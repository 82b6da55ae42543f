// A security fix merged into devel and taken out again is not back: attacks on "its change is in the tree".
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
let fix: string;

interface Fix {
  sha: string;
  devel: { sha: string; how: string } | null;
  stable: { sha: string; how: string } | null;
}

const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}\n`).join("");
const BASE = lines(1, 20);
const FIXED = lines(1, 10) + "check()\n" + lines(11, 20);

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
  // lib.c on production-stable, so the fix changes lines in the middle of a file.
  work.commit("r2: lib", { "lib.c": BASE });
  work.land();
  expect(sb.prodgate(["qa", "ok", "r2"], "quinn").stdout).toContain("production-stable moved to r2");
  work.git(["fetch", "--quiet", "origin"]);
  work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
  fix = work.commit("Fix: check before use", { "lib.c": FIXED });
  expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
  sb.prodgate(["ci", "pass", fix], "cid");
  const promoted = work.push(["origin", "secfix:production-stable"], "sam");
  expect(promoted.output).toContain("recorded 1 security fix");
  work.git(["checkout", "--quiet", "devel"]);
  work.git(["merge", "--quiet", "--no-edit", "secfix"]);
});
afterEach(() => sb.cleanup());

describe("a merged fix taken out again", () => {
  it("reverted, with a copy of the fixed lines elsewhere in the file, is not back", () => {
    work.git(["revert", "--no-edit", fix]);
    // A decoy: the fixed lines with their context, in a comment at the end; git apply finds them there at an offset.
    work.commit("docs: example", { "lib.c": BASE + "/* example:\n" + lines(8, 10) + "check()\n" + lines(11, 13) + "*/\n" });
    const pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    expect(pushed.output).not.toContain("back in devel");
    expect(sb.json<Fix[]>(["security"])[0]!.devel).toBeNull();
  });

  it("reverted inside a merge's resolution, with the decoy in the same merge, is not back", () => {
    work.git(["checkout", "--quiet", "-b", "side", "HEAD~1"]);
    work.commit("side work", { "other.c": "x\n" });
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["merge", "--quiet", "--no-commit", "side"]);
    work.git(["add", "other.c"]);
    work.commit("Merge side", { "lib.c": BASE + "/* example:\n" + lines(8, 10) + "check()\n" + lines(11, 13) + "*/\n" });
    const pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    expect(pushed.output).not.toContain("back in devel");
    expect(sb.json<Fix[]>(["security"])[0]!.devel).toBeNull();
  });

  it("kept, with later work above and below it in the same file, is back", () => {
    work.commit("more lib", { "lib.c": "header\n" + FIXED + "footer\n" });
    const pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    expect(pushed.output).toContain("back in devel");
    expect(sb.json<Fix[]>(["security"])[0]!.devel).toMatchObject({ how: "ancestry" });
  });

  it("a revert carrying the fix's cherry-pick trailer is no return", () => {
    work.git(["revert", "--no-edit", fix]);
    work.git(["commit", "--amend", "--quiet", "-m", `Revert it\n\n(cherry picked from commit ${fix})`]);
    const pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    expect(pushed.output).not.toContain("back in devel");
    expect(sb.json<Fix[]>(["security"])[0]!.devel).toBeNull();
  });

  it("picked without -x (same patch-id), reverted, with a copy of the fixed lines elsewhere, in one push: not back", () => {
    work.git(["reset", "--quiet", "--hard", "origin/devel"]);
    work.commit("other work", { "other.c": "x\n" });
    work.git(["cherry-pick", fix]);
    const pick = work.sha("HEAD");
    work.git(["revert", "--no-edit", pick]);
    work.commit("docs: example", { "lib.c": BASE + "/* example:\n" + lines(8, 10) + "check()\n" + lines(11, 13) + "*/\n" });
    const pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    expect(pushed.output).not.toContain("back in devel");
    expect(sb.json<Fix[]>(["security"])[0]!.devel).toBeNull();
  });

  it("picked, reverted and picked again in one push is back", () => {
    work.git(["reset", "--quiet", "--hard", "origin/devel"]);
    work.commit("other work", { "other.c": "x\n" });
    work.git(["cherry-pick", fix]);
    work.git(["revert", "--no-edit", "HEAD"]);
    work.git(["revert", "--no-edit", "HEAD"]);
    const pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    expect(pushed.output).toContain("back in devel");
    expect(sb.json<Fix[]>(["security"])[0]!.devel).toMatchObject({ how: "patch-id" });
  });

  it("never picked, claimed by a cherry-pick trailer beside a copy of the fixed lines elsewhere: disputed, not back", () => {
    work.git(["reset", "--quiet", "--hard", "origin/devel"]);
    work.commit(`docs: example\n\n(cherry picked from commit ${fix})`, {
      "lib.c": BASE + "/* example:\n" + lines(8, 10) + "check()\n" + lines(11, 13) + "*/\n",
    });
    const pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    expect(pushed.output).not.toContain("back in devel");
    expect(sb.json<Fix[]>(["security"])[0]!.devel).toBeNull();
  });

  it("picked with -x after other work in the same file: back by cherry-pick", () => {
    work.git(["reset", "--quiet", "--hard", "origin/devel"]);
    work.commit("more lib", { "lib.c": "header\n" + BASE + "footer\n" });
    work.git(["cherry-pick", "-x", fix]);
    const pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    expect(sb.json<Fix[]>(["security"])[0]!.devel).toMatchObject({ how: "cherry-pick", sha: work.sha("HEAD") });
  });

  it("a binary fix: picked with -x it is back; merged and reverted it is not", () => {
    work.git(["checkout", "--quiet", "secfix"]);
    const bin = work.commit("Fix: new key", { "key.bin": "\0\x01secret\0\xff\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    sb.prodgate(["ci", "pass", bin], "cid");
    expect(work.push(["origin", "secfix:production-stable"], "sam").output).toContain("recorded 1 security fix");
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["cherry-pick", "-x", bin]);
    let pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    expect(sb.json<Fix[]>(["security"]).find((f) => f.sha === bin)!.devel).toMatchObject({ how: "cherry-pick" });
    work.git(["checkout", "--quiet", "-B", "other", "origin/devel"]);
    work.git(["merge", "--quiet", "--no-edit", "secfix"]);
    work.git(["revert", "--no-edit", bin]);
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    pushed = work.push(["origin", "HEAD:stable"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    expect(sb.json<Fix[]>(["security"]).find((f) => f.sha === bin)!.stable).toBeNull();
  });

  it("merged into a devel that changed a line next to it (within git apply's context) is back", () => {
    work.git(["reset", "--quiet", "--hard", "origin/devel"]);
    work.commit("devel's own work", { "lib.c": BASE.replace("line 12\n", "line 12, changed on devel\n") });
    work.git(["merge", "--quiet", "--no-edit", "secfix"]);
    const pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    expect(pushed.output).not.toContain("reverted");
    expect(sb.json<Fix[]>(["security"])[0]!.devel).toMatchObject({ how: "ancestry" });
  });

  it("picked with -x into a devel that changed a line next to it is back, not disputed", () => {
    work.git(["reset", "--quiet", "--hard", "origin/devel"]);
    work.commit("devel's own work", { "lib.c": BASE.replace("line 12\n", "line 12, changed on devel\n") });
    work.git(["cherry-pick", "-x", fix]);
    const pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    expect(pushed.output).not.toContain("disputed");
    expect(sb.json<Fix[]>(["security"])[0]!.devel).toMatchObject({ how: "cherry-pick" });
  });
});
