// Bazaar branches served by `prodgate serve-bzr` (brz serve with prodgate's
// plugin), pushed to by a plain brz client that has no plugin.
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BzrServer, hasBrz, servedBzr } from "../helpers/bzr";

describe.skipIf(!hasBrz)("Bazaar branches through serve-bzr (skipped where brz is absent: run .ci/deps-bzr.sh)", () => {
  let s: BzrServer;
  let root: string;
  const run = (cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}) =>
    s.run(cmd, args, opts);
  const prodgate = (args: string[], user?: string) => s.prodgate(args, user ? { GL_USER: user } : {});
  const brz = (args: string[], cwd = join(root, "wt")) => s.brz(args, cwd);
  const url = (branch: string) => s.url(branch);
  const revno = (branch: string) => s.revno(branch);
  const commit = (file: string, message: string) => s.commit(file, message);

  beforeAll(async () => {
    s = await servedBzr("bzr");
    root = s.root;
  });

  afterAll(() => s?.cleanup());

  it("refuses an unapproved push to production-stable with the rule and its code", () => {
    commit("a.txt", "first change");
    const r = brz(["push", url("production-stable")]);
    expect(r.status).toBe(3);
    // Branch names as Bazaar users push to them, never git's ref names.
    expect(r.stderr).toContain("Tip change rejected: prodgate: rejected production-stable [unapproved]");
    expect(r.stderr).not.toContain("refs/heads/");
    expect(r.stderr).toContain("1 new commit(s) not approved by QA");
    expect(r.stderr).toContain("what to do:");
    expect(revno("production-stable")).toBe("0");
  });

  it("accepts pushes to devel and stable", () => {
    expect(brz(["push", url("devel")]).status).toBe(0);
    expect(brz(["push", url("stable")]).status).toBe(0);
    expect(revno("devel")).toBe("1");
    expect(revno("stable")).toBe("1");
    const status = JSON.parse(prodgate(["status", "--json"]).stdout);
    expect(status.branches.stable.revno).toBe(1);
    expect(status.pending.map((p: { revno: number; verdict: string }) => [p.revno, p.verdict])).toEqual([[1, "needstesting"]]);
  });

  it("mirrors r1 to production-stable once QA approves it", () => {
    const qa = prodgate(["qa", "ok", "r1"], "quinn");
    expect(qa.status, qa.stderr).toBe(0);
    expect(qa.stdout).toContain("production-stable moved to r1");
    expect(revno("production-stable")).toBe("1");
    const status = JSON.parse(prodgate(["status", "--json"]).stdout);
    expect(status.branches["production-stable"].revno).toBe(1);
    expect(status.mirror.outcome).toBe("moved");
  });

  it("refuses an overwrite of production-stable", () => {
    const other = join(root, "other");
    expect(run("brz", ["init", "-q", other]).status).toBe(0);
    writeFileSync(join(other, "z.txt"), "z\n");
    brz(["add", "-q", "z.txt"], other);
    expect(brz(["commit", "-q", "-m", "unrelated history"], other).status).toBe(0);
    const r = brz(["push", "--overwrite", url("production-stable")], other);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("[non-fast-forward]");
    expect(revno("production-stable")).toBe("1");
    const log = JSON.parse(prodgate(["log", "--json", "--rejected"]).stdout) as { ref: string; reason: string }[];
    expect(log.some((e) => e.ref === "refs/heads/production-stable" && /would lose commits/.test(e.reason))).toBe(true);
  });
});
