// A replace ref (refs/replace/<sha>) is an ungoverned ref any developer may
// push, and git follows it in every command unless told not to. Every git
// process prodgate starts, the hook shims' included, must see the history as
// it really is: each test here pushes a replace ref first, then makes the
// push or verdict the replacement would have misjudged.
import Database from "better-sqlite3";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../src/store/schema";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
});
afterEach(() => sb.cleanup());

/** Push refs/replace/<target> making `target` look like `replacement`, then forget it locally (so later pushes send the real history). */
function pushReplacement(target: string, replacement: string): void {
  work.git(["replace", "--force", target, replacement]);
  const r = work.push(["origin", `refs/replace/${target}`], "dev");
  expect(r.status, r.output).toBe(0);
  work.git(["replace", "-d", target]);
  expect(sb.tip(`refs/replace/${target}`)).toBe(replacement);
}

/** A commit with `sha`'s tree and these parents and message. */
function forge(sha: string, parents: string[], message: string): string {
  return work.git(["commit-tree", `${sha}^{tree}`, ...parents.flatMap((p) => ["-p", p]), "-m", message]);
}

/** Is `ancestor` in the history of `ref` on the server, as it really is (replace refs off)? */
function contains(ref: string, ancestor: string): boolean {
  return sb.run("git", ["merge-base", "--is-ancestor", ancestor, ref], { cwd: sb.bare, env: { GIT_NO_REPLACE_OBJECTS: "1" } }).status === 0;
}

function push(args: string[], user = "dev") {
  return work.push(args, user);
}

describe("a pushed replace ref", () => {
  it("does not let QA's verdict on another revision move production-stable onto an unreviewed commit", () => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    const r1 = sb.tip("production-stable")!;
    const r2 = work.commit("r2: reviewed feature");
    work.land();
    const backdoor = work.commit("Add backdoor");
    work.land();
    // The backdoor made to look untestable by its message, on the same parent.
    pushReplacement(backdoor, forge(backdoor, [r2], "Add backdoor [no-qa]"));
    work.git(["tag", "qa/ok/r2", r2]);
    const tag = push(["origin", "qa/ok/r2"], "quinn");
    expect(tag.status, tag.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(r2);
    expect(contains("production-stable", r1)).toBe(true);
  });

  it("never makes the mirror move production-stable non-fast-forward, dropping a promoted security fix", () => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    const r1 = sb.tip("production-stable")!;
    // A security fix promoted onto production-stable.
    work.git(["checkout", "--quiet", "-b", "secfix", r1]);
    const fix = work.commit("Fix auth bypass", { "auth.c": "check the password\n" });
    expect(push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
    const promoted = push(["origin", "HEAD:production-stable"], "sam");
    expect(promoted.status, promoted.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(fix);
    // r2 on stable, made to look as if it were built on the fix.
    work.git(["checkout", "--quiet", "devel"]);
    const r2 = work.commit("r2: feature");
    work.land();
    pushReplacement(r2, forge(r2, [fix], "r2: feature"));
    work.git(["tag", "qa/ok/r2", r2]);
    const tag = push(["origin", "qa/ok/r2"], "quinn");
    expect(tag.status, tag.output).toBe(0);
    expect(contains("production-stable", fix), "the fix stays").toBe(true);
    expect(contains("production-stable", r2), "r2 is mirrored").toBe(true);
  });

  it("does not make a non-fast-forward push of devel pass", () => {
    const a = work.commit("r2");
    work.land();
    // A rewrite of devel that drops r2, made to look as if it were built on it.
    work.git(["checkout", "--quiet", "-b", "rewrite", `${a}^`]);
    const b = work.commit("r2 rewritten");
    pushReplacement(b, forge(b, [a], "r2 rewritten"));
    const r = push(["--force", "origin", "HEAD:devel"]);
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toContain("[non-fast-forward]");
    expect(sb.tip("devel")).toBe(a);
  });

  it("does not make a non-fast-forward push of stable pass", () => {
    const a = work.commit("r2");
    work.land();
    // b drops a from stable; devel takes both (a stays its first parent).
    work.git(["checkout", "--quiet", "-b", "side", `${a}^`]);
    const b = work.commit("side work");
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["merge", "--quiet", "--no-edit", "side"]);
    expect(push(["origin", "HEAD:devel"]).status).toBe(0);
    pushReplacement(b, forge(b, [a], "side work"));
    const r = push(["--force", "origin", `${b}:refs/heads/stable`]);
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toContain("[non-fast-forward]");
    expect(sb.tip("stable")).toBe(a);
  });

  it("does not let stable take a commit that is not on devel", () => {
    const s = sb.tip("stable")!;
    const d = work.commit("r2 on devel");
    expect(push(["origin", "HEAD:devel"]).status).toBe(0);
    // c is built on stable but never landed on devel; devel's tip made to look as if it had merged c.
    work.git(["checkout", "--quiet", "-b", "elsewhere", s]);
    const c = work.commit("not on devel");
    pushReplacement(d, forge(d, [s, c], "r2 on devel"));
    const r = push(["origin", "HEAD:stable"]);
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toContain("[not-on-devel]");
    expect(sb.tip("stable")).toBe(s);
  });

  it("does not change the revision numbers prodgate stores, which stay true once the replace ref is gone", () => {
    const r1 = sb.tip("stable")!;
    work.commit("r2");
    const r3 = work.commit("r3");
    // r3 made to look as if it came straight after r1 (it would be r2).
    pushReplacement(r3, forge(r3, [r1], "r3"));
    work.land();
    work.git(["tag", "qa/ok/r3", r3]);
    expect(push(["origin", "qa/ok/r3"], "quinn").status).toBe(0);
    expect(push(["origin", `:refs/replace/${r3}`]).status).toBe(0);
    const db = new Database(join(sb.bare, "prodgate", "state.db"), { readonly: true });
    try {
      const stored = db.prepare("SELECT revno FROM revnos WHERE sha = ?").get(r3) as { revno: number } | undefined;
      if (stored) expect(stored.revno).toBe(3);
    } finally {
      db.close();
    }
    const status = sb.json<{ branches: { stable: { sha: string; revno: number } } }>(["status"]);
    expect(status.branches.stable).toMatchObject({ sha: r3, revno: 3 });
  });

  it("leaves no revision number counted before the hardening: a database from before counts them again", () => {
    const r2 = work.commit("r2");
    work.land();
    expect(sb.json<{ branches: { stable: { revno: number } } }>(["status"]).branches.stable.revno).toBe(2);
    // As a replace ref could have left it: r2 stored as r7, in a database of the schema before.
    const before = MIGRATIONS.findIndex((m) => m.includes("DELETE FROM revnos"));
    const path = join(sb.bare, "prodgate", "state.db");
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
    const db = new Database(path);
    try {
      for (const m of MIGRATIONS.slice(0, before)) db.exec(m);
      db.pragma(`user_version = ${before}`);
      db.prepare("INSERT OR REPLACE INTO revnos (sha, revno) VALUES (?, 7)").run(r2);
    } finally {
      db.close();
    }
    expect(sb.json<{ branches: { stable: { revno: number } } }>(["status"]).branches.stable.revno).toBe(2);
  });
});
