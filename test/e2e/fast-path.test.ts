// The hook shims decide "not governed" in the shell, from configuration they
// keep between pushes; a configuration change must still take effect at once.
import Database from "better-sqlite3";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

describe("post-receive after a push that leaves it nothing to do", () => {
  const query = <T>(sql: string): T => {
    const db = new Database(join(sb.bare, "prodgate", "state.db"), { readonly: true });
    try {
      return db.prepare(sql).get() as T;
    } finally {
      db.close();
    }
  };
  const scanMark = (branch: string) =>
    query<{ sha: string } | undefined>(`SELECT sha FROM scan_marks WHERE branch = '${branch}'`)?.sha ?? null;
  const mirrorRuns = () => query<{ n: number }>("SELECT count(*) AS n FROM mirror_runs").n;
  // Each hook run by Node appends "<hook> <ms>ms git=<processes it started>" here.
  let traceFile: string;
  let traced: string[] = [];
  const hooksRun = (): string[] => {
    if (!existsSync(traceFile)) return [];
    traced = readFileSync(traceFile, "utf8").trim().split("\n");
    rmSync(traceFile);
    return traced.map((l) => l.split(" ")[0]!);
  };
  beforeEach(() => {
    traceFile = join(sb.root, "hook-trace.txt");
    sb.prodgate(["qa", "ok", "r1"], "quinn");
  });
  const trace = () => ({ PRODGATE_TRACE: traceFile });

  it("starts Node once for devel and stable pushes that bring nothing back, and twice when a fix comes back", () => {
    work.commit("r2");
    expect(work.push(["origin", "HEAD:devel"], "dev", trace()).status).toBe(0);
    expect(hooksRun()).toEqual(["pre-receive"]);
    expect(traced[0]).toMatch(/ git=0$/); // the shim asked git everything while Node started
    // pre-receive looked at the new commits for fixes and moved the scan mark itself.
    expect(scanMark("devel")).toBe(work.sha("HEAD"));

    const runs = mirrorRuns();
    expect(work.push(["origin", "HEAD:stable"], "dev", trace()).status).toBe(0);
    expect(hooksRun()).toEqual(["pre-receive"]);
    expect(traced[0]).toMatch(/ git=0$/);
    expect(scanMark("stable")).toBe(work.sha("HEAD"));
    expect(mirrorRuns()).toBe(runs); // nothing new is deployable: no mirror run

    // A verdict changes what is deployable: post-receive records it and mirrors.
    expect(work.push(["origin", "HEAD:refs/tags/qa/ok/r2"], "quinn", trace()).status).toBe(0);
    expect(hooksRun()).toEqual(["pre-receive", "post-receive"]);
    expect(traced[0]).toMatch(/ git=0$/); // the shim asked for the tag's target
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));

    // A promoted fix that comes back into devel is recorded by post-receive.
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-b", "secfix", "origin/production-stable"]);
    const fix = work.commit("Fix", { "fix.c": "fixed\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    sb.prodgate(["ci", "pass", fix], "cid");
    expect(work.push(["origin", "HEAD:production-stable"], "sam").status).toBe(0);
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["merge", "--quiet", "--ff-only", "origin/devel"]);
    work.commit("unrelated work");
    expect(work.push(["origin", "HEAD:devel"], "dev", trace()).status).toBe(0);
    expect(hooksRun()).toEqual(["pre-receive"]); // the fix is pending, but this push does not bring it
    work.git(["cherry-pick", "-x", fix]);
    const back = work.push(["origin", "HEAD:devel"], "dev", trace());
    expect(back.output).toContain("back in devel");
    expect(hooksRun()).toEqual(["pre-receive", "post-receive"]);
    expect(scanMark("devel")).toBe(work.sha("HEAD"));
  });

  it("starts Node without NODE_EXTRA_CA_CERTS, which the hooks never need", () => {
    work.commit("r2");
    // Node reads this file at every start, and warns when it cannot.
    const r = work.push(["origin", "HEAD:devel"], "dev", { NODE_EXTRA_CA_CERTS: join(sb.root, "no-such-bundle.pem") });
    expect(r.status, r.output).toBe(0);
    expect(r.output).not.toContain("extra certs");
  });

  it("runs post-receive for a stable push whose commit counts as tested by its message", () => {
    work.commit("docs only [no-qa]");
    // Landed by the trusted role: recording its marker costs no git process either.
    expect(work.push(["origin", "HEAD:devel"], "cid", trace()).status).toBe(0);
    expect(hooksRun()).toEqual(["pre-receive"]);
    expect(traced[0]).toMatch(/ git=0$/);
    const r = work.push(["origin", "HEAD:stable"], "dev", trace());
    expect(r.status).toBe(0);
    expect(hooksRun()).toEqual(["pre-receive", "post-receive"]);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
  });

  it("runs post-receive in full when a note under the push's name holds other lines", () => {
    work.commit("r2");
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    expect(work.push(["origin", "HEAD:stable"], "dev").status).toBe(0);
    const sha = work.sha("HEAD");
    // Left by a push that never landed, say: same first new sha, other lines.
    mkdirSync(join(sb.bare, "prodgate", "quiet"), { recursive: true });
    writeFileSync(join(sb.bare, "prodgate", "quiet", sha), `${"0".repeat(40)} ${sha} refs/tags/qa/ok/other\n`);
    expect(work.push(["origin", "HEAD:refs/tags/qa/ok/r2"], "quinn", trace()).status).toBe(0);
    expect(hooksRun()).toEqual(["pre-receive", "post-receive"]);
    expect(sb.tip("production-stable")).toBe(sha);
  });
});
