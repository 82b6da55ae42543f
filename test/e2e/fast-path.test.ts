// The hook shims decide "not governed" in the shell, from configuration they
// keep between pushes; a configuration change must still take effect at once.
import Database from "better-sqlite3";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
});
afterEach(() => sb.cleanup());

// Node cannot start with this: a push that reaches the engine fails.
const NO_NODE = { NODE_OPTIONS: "--require /nonexistent/prodgate-must-not-start.js" };

describe("the shell fast path", () => {
  it("takes a push of ungoverned refs without starting node", () => {
    work.git(["checkout", "--quiet", "-b", "topic"]);
    work.commit("topic work");
    const r = work.push(["origin", "topic", "HEAD:refs/tags/v1"], "dev", NO_NODE);
    expect(r.status, r.output).toBe(0);
    expect(sb.tip("topic")).toBe(work.sha("HEAD"));
  });

  it("still starts the engine for a governed ref", () => {
    work.commit("r2");
    const r = work.push(["origin", "HEAD:devel"], "dev", NO_NODE);
    expect(r.status).not.toBe(0);
    expect(sb.tip("devel")).not.toBe(work.sha("HEAD"));
  });

  it("follows a renamed branch at the next push, even right after its configuration was kept", () => {
    work.git(["checkout", "--quiet", "-b", "main"]);
    work.commit("main work");
    // This push leaves the shims' copy of the configuration behind.
    expect(work.push(["origin", "main"], "dev").status).toBe(0);
    sb.git(["config", "prodgate.develBranch", "main"], { cwd: sb.bare });
    const rewind = work.push(["--force", "origin", "HEAD~1:main"], "dev");
    expect(rewind.status).not.toBe(0);
    expect(rewind.output).toContain("[non-fast-forward]");
    // And back: devel is no longer governed by its name alone, main is.
    sb.git(["config", "prodgate.develBranch", "devel"], { cwd: sb.bare });
    expect(work.push(["--force", "origin", "HEAD~1:main"], "dev", NO_NODE).status).toBe(0);
  });

  it("follows a governed-ref pattern added to the configuration", () => {
    work.git(["checkout", "--quiet", "-b", "release/1"]);
    work.commit("release work");
    expect(work.push(["origin", "release/1"], "dev", NO_NODE).status).toBe(0);
    sb.git(["config", "--add", "prodgate.governed", "refs/heads/release/*"], { cwd: sb.bare });
    work.commit("more release work");
    expect(work.push(["origin", "release/1"], "dev", NO_NODE).status).not.toBe(0);
  });
});

describe("post-receive on a push to devel alone", () => {
  const develScanMark = (): string | null => {
    const db = new Database(join(sb.bare, "prodgate", "state.db"), { readonly: true });
    try {
      return (db.prepare("SELECT sha FROM scan_marks WHERE branch = 'devel'").get() as { sha: string } | undefined)?.sha ?? null;
    } finally {
      db.close();
    }
  };
  const marker = () => join(sb.bare, "prodgate", "fixes-pending");

  it("skips the engine while no security fix waits for devel, and runs it while one does", () => {
    const before = develScanMark();
    work.commit("r2");
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    expect(existsSync(marker())).toBe(false);
    expect(develScanMark()).toBe(before); // post-receive did not start node

    // A promoted fix makes devel pushes worth scanning again.
    sb.prodgate(["qa", "ok", "r1"], "quinn");
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-b", "secfix", "origin/production-stable"]);
    const fix = work.commit("Fix", { "fix.c": "fixed\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    sb.prodgate(["ci", "pass", fix], "cid");
    expect(work.push(["origin", "HEAD:production-stable"], "sam").status).toBe(0);
    expect(existsSync(marker())).toBe(true);

    work.git(["checkout", "--quiet", "devel"]);
    work.git(["cherry-pick", "-x", fix]);
    const back = work.push(["origin", "HEAD:devel"], "dev");
    expect(back.output).toContain("back in devel");
    expect(develScanMark()).toBe(work.sha("HEAD"));
    expect(existsSync(marker())).toBe(false);
  });
});
