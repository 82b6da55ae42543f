// The gate: every rule of a push, accepted and rejected, through real hooks.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
});
afterEach(() => sb.cleanup());

describe("production-stable", () => {
  it("refuses an unapproved commit, naming it, its verdict and what to do", () => {
    const r = work.push(["origin", "devel:production-stable"], "dev");
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("rejected refs/heads/production-stable [unapproved]");
    expect(r.output).toMatch(/r1 [0-9a-f]{7} r1: initial \(needstesting\)/);
    expect(r.output).toContain("what to do:");
    expect(sb.tip("production-stable")).toBeNull();
  });

  it("takes a fast-forward to approved stable content", () => {
    sb.git(["config", "prodgate.requireCi", "true"], { cwd: sb.bare });
    // The mirror is killed before it moves anything, so the push does the move.
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn", { PRODGATE_FAULT: "before-update-ref" }).status).not.toBe(0);
    expect(sb.tip("production-stable")).toBeNull();
    const r = work.push(["origin", "devel:production-stable"], "dev");
    expect(r.status, r.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
  });

  it("never takes a rewind or a deletion", () => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
    work.commit("r2: more");
    work.land();
    expect(sb.prodgate(["qa", "ok", "r2"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));

    const rewind = work.push(["--force", "origin", "HEAD~1:production-stable"], "dev");
    expect(rewind.status).not.toBe(0);
    expect(rewind.output).toContain("[non-fast-forward]");
    const del = work.push(["origin", ":production-stable"], "dev");
    expect(del.status).not.toBe(0);
    expect(del.output).toContain("[delete-protected]");
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
  });
});

describe("stable", () => {
  it("only advances to commits already on devel", () => {
    work.git(["checkout", "--quiet", "-b", "side"]);
    const side = work.commit("not on devel");
    const r = work.push(["origin", "side:stable"], "dev");
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("[not-on-devel]");
    expect(sb.tip("stable")).not.toBe(side);
  });

  it("is fast-forward only", () => {
    work.commit("r2");
    work.land();
    const r = work.push(["--force", "origin", "HEAD~1:stable"], "dev");
    expect(r.output).toContain("[non-fast-forward]");
  });

  it("can be limited to the ci role", () => {
    sb.git(["config", "prodgate.stableWriters", "ci"], { cwd: sb.bare });
    work.commit("r2");
    work.push(["origin", "devel"], "dev");
    const refused = work.push(["origin", "devel:stable"], "dev");
    expect(refused.output).toContain("[role-required]");
    expect(work.push(["origin", "devel:stable"], "cid").status).toBe(0);
  });
});

describe("devel and production-devel", () => {
  it("devel is never force-pushed or deleted", () => {
    work.commit("r2");
    work.push(["origin", "devel"], "dev");
    expect(work.push(["--force", "origin", "HEAD~1:devel"], "dev").output).toContain("[non-fast-forward]");
    expect(work.push(["origin", ":devel"], "dev").output).toContain("[delete-protected]");
  });

  it("production-devel is for the security role only", () => {
    expect(work.push(["origin", "devel:production-devel"], "dev").output).toContain("[role-required]");
    expect(work.push(["origin", "devel:production-devel"], "sam").status).toBe(0);
  });
});

describe("refs prodgate does not govern", () => {
  it("are pushed as usual, even when prodgate's database is gone", () => {
    sb.run("rm", ["-f", `${sb.bare}/prodgate/state.db`]);
    work.git(["checkout", "--quiet", "-b", "feature"]);
    work.commit("feature work");
    expect(work.push(["origin", "feature"], "dev").status).toBe(0);
    expect(work.push(["--force", "origin", "HEAD~1:feature"], "dev").status).toBe(0);
    expect(work.push(["origin", ":feature"], "dev").status).toBe(0);
    const governed = work.push(["origin", "feature:devel"], "dev");
    expect(governed.status).not.toBe(0);
    expect(governed.output).toContain("[unavailable]");
    expect(governed.output).toContain("database is missing");
  });
});
