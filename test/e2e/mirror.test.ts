// The mirror: production-stable follows approved stable revisions by itself.
import { spawn } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, MAIN, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
});
afterEach(() => sb.cleanup());

interface Status {
  deployable: { sha: string; revno: number } | null;
  mirror: { outcome: string; detail: string | null } | null;
  freeze: { by: string; reason: string } | null;
}

/** Make production-stable diverge from stable, the way an admin's override would. */
function divergeProduction(files: Record<string, string>): string {
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
  work.git(["fetch", "--quiet", "origin"]);
  work.git(["checkout", "--quiet", "-b", "hotfix", "origin/production-stable"]);
  const hot = work.commit("hotfix straight to production", files);
  const r = work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override=outage, fix now"], "ada");
  expect(r.status, r.output).toBe(0);
  work.git(["checkout", "--quiet", "devel"]);
  return hot;
}

describe("mirror", () => {
  it("freeze stops it, thaw resumes it, and status shows who froze it", () => {
    expect(sb.prodgate(["freeze", "--reason", "release weekend"], "dev").status).toBe(2);
    expect(sb.prodgate(["freeze", "--reason", "release weekend"], "sam").status).toBe(0);
    const q = sb.prodgate(["qa", "ok", "r1"], "quinn");
    expect(q.stdout).toContain("frozen by sam");
    expect(sb.tip("production-stable")).toBeNull();
    const st = sb.json<Status>(["status"]);
    expect(st.freeze?.by).toBe("sam");
    expect(st.freeze?.reason).toBe("release weekend");
    expect(st.mirror?.outcome).toBe("frozen");
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(sb.tip("production-stable")).toBeNull();
    const t = sb.prodgate(["thaw"], "ada");
    expect(t.status, t.stderr).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
  });

  it("merges when production-stable holds commits stable lacks, keeping both sides", () => {
    const hot = divergeProduction({ HOTFIX: "patched\n" });
    const r2 = work.commit("r2 feature", { "feature.txt": "new feature\n" });
    work.land();
    const r = sb.prodgate(["qa", "ok", "r2"], "quinn");
    expect(r.stdout).toContain("by a merge");
    const tip = sb.tip("production-stable")!;
    expect(sb.git(["rev-list", "--parents", "-n1", tip], { cwd: sb.bare }).split(" ").slice(1)).toEqual([hot, r2]);
    const files = sb.git(["ls-tree", "--name-only", tip], { cwd: sb.bare }).split("\n");
    expect(files).toEqual(expect.arrayContaining(["HOTFIX", "feature.txt", "README"]));
    const author = sb.git(["log", "-1", "--format=%an <%ae>|%s", tip], { cwd: sb.bare });
    expect(author).toContain("prodgate <prodgate@localhost>|Mirror stable r2");
    expect(sb.fsck().status).toBe(0);
  });

  it("a conflicting merge changes nothing, shows the paths, and sync exits 1 until resolved", () => {
    divergeProduction({ "config.ini": "production value\n" });
    const before = sb.tip("production-stable");
    work.commit("r2 changes config", { "config.ini": "stable value\n" });
    work.land();
    sb.prodgate(["qa", "ok", "r2"], "quinn");
    expect(sb.tip("production-stable")).toBe(before);
    const st = sb.json<Status>(["status"]);
    expect(st.mirror?.outcome).toBe("conflict");
    expect(st.mirror?.detail).toContain("config.ini");
    expect(sb.prodgate(["status"]).stdout).toContain("conflicting paths: config.ini");
    const sync = sb.prodgate(["sync"]);
    expect(sync.status).toBe(1);
    expect(sync.stdout).toContain("merge conflict in config.ini");

    // Resolve by landing production's value on stable.
    work.commit("r3 take production's config", { "config.ini": "production value\n" });
    work.land();
    sb.prodgate(["qa", "ok", "r3"], "quinn");
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(sb.git(["show", "production-stable:config.ini"], { cwd: sb.bare })).toBe("production value");
    expect(sb.git(["merge-base", "--is-ancestor", before!, "production-stable"], { cwd: sb.bare })).toBe("");
  });

  it("moves production-devel along when it holds nothing unpromoted", () => {
    work.push(["origin", "HEAD:production-devel"], "sam");
    work.commit("r2");
    work.land();
    sb.prodgate(["qa", "ok", "r1", "r2"], "quinn");
    expect(sb.tip("production-devel")).toBe(work.sha("HEAD"));
  });

  it("explain gives the hook's decision code without changing anything", () => {
    const ex = sb.json<{ deployable: boolean; push: { accepted: boolean; code: string } }>(["explain", "r1"], "dev");
    expect(ex.deployable).toBe(false);
    expect(ex.push).toMatchObject({ accepted: false, code: "unapproved" });
    const logBefore = sb.json<unknown[]>(["log"]).length;
    sb.prodgate(["freeze", "--reason", "hold"], "ada");
    sb.prodgate(["qa", "ok", "r1"], "quinn");
    const ex2 = sb.json<{ deployable: boolean; notes: string[]; push: { code: string } }>(["explain", "r1"], "dev");
    expect(ex2.deployable).toBe(true);
    expect(ex2.notes.join()).toContain("frozen");
    expect(ex2.push.code).toBe("frozen"); // what the hook would say: a freeze stops pushes too
    expect(sb.json<unknown[]>(["log"]).length).toBeGreaterThan(logBefore);
    const after = sb.json<unknown[]>(["log"]).length;
    sb.prodgate(["explain", "r1"], "dev");
    expect(sb.json<unknown[]>(["log"]).length).toBe(after);
  });

  it("sync is idempotent: one move, then up-to-date, and a single audit row", () => {
    sb.prodgate(["freeze", "--reason", "hold"], "ada");
    sb.prodgate(["qa", "ok", "r1"], "quinn");
    sb.prodgate(["thaw"], "ada");
    for (let i = 0; i < 3; i++) expect(sb.prodgate(["sync"]).status).toBe(0);
    const moves = sb
      .json<{ decision: string; reason: string }[]>(["log"])
      .filter((e) => e.decision === "mirror" && e.reason.includes("moved"));
    expect(moves.length).toBe(1);
    expect(sb.json<Status>(["status"]).mirror?.outcome).toBe("up-to-date");
  });
});

function runAsync(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ status: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(args[0]!, args.slice(1), { env, cwd });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (status) => resolve({ status: status ?? -1, out }));
  });
}

describe("mirror under concurrency and crashes", () => {
  it("several syncs and verdict pushes at once end at D with one record per move", async () => {
    for (let i = 2; i <= 6; i++) work.commit(`r${i}`);
    work.land();
    for (let i = 1; i <= 6; i++) work.git(["tag", `qa/ok/r${i}`, `HEAD~${6 - i}`]);
    const env = sb.env();
    const jobs: Promise<{ status: number; out: string }>[] = [];
    for (let i = 1; i <= 6; i++) {
      jobs.push(runAsync(["git", "push", "origin", `qa/ok/r${i}`], { ...env, GL_USER: "quinn" }, work.dir));
      jobs.push(runAsync([process.execPath, MAIN, "--repo", sb.bare, "sync"], env, sb.root));
    }
    const results = await Promise.all(jobs);
    for (const r of results) {
      expect(r.status, r.out).toBe(0);
      expect(r.out).not.toContain("database is locked");
    }
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
    const moves = sb
      .json<{ decision: string; code: string; new: string }[]>(["log", "--limit", "1000"])
      .filter((e) => e.decision === "mirror" && (e.code === "moved" || e.code === "merged"));
    expect(new Set(moves.map((m) => m.new)).size).toBe(moves.length);
    expect(sb.fsck().status).toBe(0);
  });

  it.each(["after-merge-tree", "after-commit-tree", "before-update-ref", "after-update-ref", "before-db-write", "after-db-write"])(
    "a mirror killed %s converges on the next sync, nothing recorded twice",
    (step) => {
      divergeProduction({ HOTFIX: "x\n" });
      work.commit("r2", { "feature.txt": "y\n" });
      work.land();
      const killed = sb.prodgate(["qa", "ok", "r2"], "quinn", { PRODGATE_FAULT: step });
      expect(killed.status).not.toBe(0);
      expect(sb.prodgate(["sync"]).status).toBe(0);
      expect(sb.prodgate(["sync"]).status).toBe(0);
      const tip = sb.tip("production-stable")!;
      expect(sb.git(["merge-base", "--is-ancestor", work.sha("HEAD"), tip], { cwd: sb.bare })).toBe("");
      const moves = sb
        .json<{ decision: string; code: string; new: string }[]>(["log", "--limit", "1000"])
        .filter((e) => e.decision === "mirror" && (e.code === "moved" || e.code === "merged"));
      expect(moves.filter((m) => m.new === tip).length).toBe(1);
      expect(sb.fsck().status).toBe(0);
    },
  );
});
