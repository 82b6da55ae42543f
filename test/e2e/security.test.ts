// Security fixes: production-devel → production-stable, tested, and tracked until back in devel and stable.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

interface Fix {
  sha: string;
  subject: string;
  promotedBy: string;
  promotedAt: string;
  devel: { sha: string; at: string; how: string } | null;
  stable: { sha: string; at: string; how: string } | null;
}

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
});
afterEach(() => sb.cleanup());

/** A fix prepared on production-devel by the security team; returns its sha. */
function prepareFix(files: Record<string, string> = { "auth.c": "check the password\n" }, subject = "Fix auth bypass"): string {
  work.git(["fetch", "--quiet", "origin"]);
  work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
  const fix = work.commit(subject, files);
  const r = work.push(["origin", "HEAD:production-devel"], "sam");
  expect(r.status, r.output).toBe(0);
  return fix;
}

function promote(user = "sam") {
  return work.push(["origin", "secfix:production-stable"], user);
}

describe("promotion", () => {
  it("production-devel refuses someone without the security role", () => {
    work.git(["checkout", "--quiet", "-b", "secfix"]);
    work.commit("Fix");
    const r = work.push(["origin", "HEAD:production-devel"], "dev");
    expect(r.output).toContain("[role-required]");
  });

  it("is refused without a CI pass, then accepted with one and recorded as a fix", () => {
    const fix = prepareFix();
    const refused = promote();
    expect(refused.status).not.toBe(0);
    expect(refused.output).toContain("[no-ci-pass]");
    expect(sb.prodgate(["ci", "pass", fix], "dev").status).toBe(2);
    expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
    const ok = promote();
    expect(ok.status, ok.output).toBe(0);
    expect(ok.output).toContain("recorded 1 security fix");
    expect(sb.tip("production-stable")).toBe(fix);
    const fixes = sb.json<Fix[]>(["security"]);
    expect(fixes).toHaveLength(1);
    expect(fixes[0]).toMatchObject({ sha: fix, subject: "Fix auth bypass", promotedBy: "sam", devel: null, stable: null });
  });

  it("a CI pass can come from a ci/pass tag pushed by the ci role", () => {
    const fix = prepareFix();
    work.git(["tag", "ci/pass/build-1", fix]);
    expect(work.push(["origin", "ci/pass/build-1"], "dev").output).toContain("[role-required]");
    expect(work.push(["origin", "ci/pass/build-1"], "cid").status).toBe(0);
    expect(promote().status).toBe(0);
  });

  it("is refused for someone without the security role, and for commits on neither branch", () => {
    const fix = prepareFix();
    sb.prodgate(["ci", "pass", fix], "cid");
    expect(promote("dev").output).toContain("[unapproved]");
    const stray = work.commit("not on production-devel");
    sb.prodgate(["ci", "pass", stray], "cid");
    const r = promote();
    expect(r.output).toContain("[not-on-production-devel]");
    expect(r.output).toContain("not on production-devel");
  });

  it("a CI tag in the same push does not count for the promotion", () => {
    const fix = prepareFix();
    work.git(["tag", "ci/pass/same-push", fix]);
    const r = work.push(["origin", "ci/pass/same-push", "secfix:production-stable"], "sam");
    expect(r.output).toContain("[no-ci-pass]");
    expect(sb.tip("production-stable")).not.toBe(fix);
  });

  it("a production-devel update in the same push does not count for the promotion", () => {
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
    const fix = work.commit("Fix in one go", { "x.c": "x\n" });
    sb.prodgate(["ci", "pass", fix], "cid");
    const r = work.push(["origin", "secfix:production-devel", "secfix:production-stable"], "sam");
    expect(r.output).toContain("[not-on-production-devel]");
  });
});

describe("tracking a fix until it is back", () => {
  let fix: string;
  beforeEach(() => {
    fix = prepareFix();
    sb.prodgate(["ci", "pass", fix], "cid");
    expect(promote().status).toBe(0);
    work.git(["checkout", "--quiet", "devel"]);
  });

  it("a later approved stable revision is mirrored by a merge that keeps the fix", () => {
    work.commit("r2 feature", { "feature.c": "f\n" });
    work.land();
    expect(sb.prodgate(["qa", "ok", "r2"], "quinn").stdout).toContain("by a merge");
    const files = sb.git(["ls-tree", "--name-only", "production-stable"], { cwd: sb.bare }).split("\n");
    expect(files).toEqual(expect.arrayContaining(["auth.c", "feature.c"]));
  });

  it("comes back by merge (ancestry), then reaches stable", () => {
    work.git(["merge", "--quiet", "--no-edit", "secfix"]);
    const pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.output).toContain("back in devel");
    let f = sb.json<Fix[]>(["security"])[0]!;
    expect(f.devel?.how).toBe("ancestry");
    expect(f.stable).toBeNull();
    expect(sb.json<Fix[]>(["security", "--pending"])).toHaveLength(1);
    work.push(["origin", "HEAD:stable"], "dev");
    f = sb.json<Fix[]>(["security"])[0]!;
    expect(f.stable?.how).toBe("ancestry");
    expect(sb.json<Fix[]>(["security", "--pending"])).toHaveLength(0);
  });

  it("merged and reverted in the same push is not back; a revert of the revert brings it back", () => {
    work.git(["merge", "--quiet", "--no-edit", "secfix"]);
    work.git(["revert", "--no-edit", fix]);
    const revert = work.sha("HEAD");
    const pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    expect(pushed.output).not.toContain("back in devel");
    expect(pushed.output).toContain(`then reverted in ${revert.slice(0, 7)}`);
    expect(sb.json<Fix[]>(["security"])[0]!.devel).toBeNull();
    expect(sb.prodgate(["security"]).stdout).toContain(`merged into devel, then reverted (or its change lost) in ${revert.slice(0, 7)}`);
    expect(sb.json<{ securityPending: unknown[] }>(["status"]).securityPending).toHaveLength(1);
    // Nor when stable takes the same history, nor from sync.
    work.push(["origin", "HEAD:stable"], "dev");
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(sb.json<Fix[]>(["security"])[0]).toMatchObject({ devel: null, stable: null });
    work.git(["revert", "--no-edit", "HEAD"]);
    work.push(["origin", "HEAD:devel"], "dev");
    expect(sb.json<Fix[]>(["security"])[0]!.devel).toMatchObject({ how: "patch-id", sha: work.sha("HEAD") });
  });

  it("merged into devel, then reverted, before the promotion: not back at the promotion either", () => {
    // A second fix, merged and reverted on devel before it is promoted.
    const second = prepareFix({ "token.c": "check the token\n" }, "Fix token reuse");
    sb.prodgate(["ci", "pass", second], "cid");
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["merge", "--quiet", "--no-edit", "secfix"]);
    work.git(["revert", "--no-edit", second]);
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    const r = promote();
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("then reverted in");
    const f = sb.json<Fix[]>(["security"]).find((x) => x.sha === second)!;
    expect(f.devel).toBeNull();
  });

  it("comes back by cherry-pick -x", () => {
    work.git(["cherry-pick", "-x", fix]);
    work.push(["origin", "HEAD:devel"], "dev");
    const f = sb.json<Fix[]>(["security"])[0]!;
    expect(f.devel).toMatchObject({ how: "cherry-pick", sha: work.sha("HEAD") });
  });

  it("comes back by a cherry-pick with an edited message (patch-id)", () => {
    work.git(["cherry-pick", fix]);
    work.git(["commit", "--quiet", "--amend", "-m", "Port the auth fix to devel"]);
    work.push(["origin", "HEAD:devel"], "dev");
    const f = sb.json<Fix[]>(["security"])[0]!;
    expect(f.devel).toMatchObject({ how: "patch-id", sha: work.sha("HEAD") });
  });

  it("status shows the pending count; --max-age exits 1 when a fix is older", () => {
    const st = sb.json<{ securityPending: unknown[] }>(["status"]);
    expect(st.securityPending).toHaveLength(1);
    expect(sb.prodgate(["security", "--pending", "--max-age", "1"]).status).toBe(0);
    expect(sb.prodgate(["security", "--pending", "--max-age", "0"]).status).toBe(1);
    expect(sb.prodgate(["security", "--max-age", "soon"]).status).toBe(2);
  });

  it("once the fix is back in stable and approved, production-stable is in step with stable", () => {
    work.git(["merge", "--quiet", "--no-edit", "secfix"]);
    work.land();
    sb.prodgate(["qa", "ok", "stable"], "quinn");
    const st = sb.json<{ inStepWithStable: number | null; securityPending: unknown[] }>(["status"]);
    expect(st.securityPending).toHaveLength(0);
    expect(st.inStepWithStable).not.toBeNull();
    expect(sb.prodgate(["status"]).stdout).toContain("in step with stable");
  });
});

describe("break-glass", () => {
  it("an override's content is the override's: listed under it, never recorded or tracked as security fixes", () => {
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "hotfix", "origin/production-stable"]);
    const hot = work.commit("Emergency: disable the importer", { "importer.c": "off\n" });
    const r = work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override=incident 43"], "ada");
    expect(r.status, r.output).toBe(0);
    expect(r.output).not.toContain("recorded 1 security fix");
    expect(r.output).toContain("the override brought 1 commit(s) that stable lacks: not security fixes");
    expect(sb.json<Fix[]>(["security"])).toEqual([]);
    const st = sb.json<{
      securityPending: unknown[];
      overridesPending: { commits: { sha: string; verdict: string }[] }[];
      branches: Record<string, { holds?: { securityFixes: number; otherCommits: number } }>;
    }>(["status"]);
    expect(st.securityPending).toEqual([]);
    expect(st.branches["production-stable"]!.holds).toMatchObject({ securityFixes: 0, otherCommits: 1 });
    expect(st.overridesPending[0]!.commits).toEqual([expect.objectContaining({ sha: hot, verdict: "not-on-stable" })]);
    const security = sb.prodgate(["security"]).stdout;
    expect(security).toContain("no security fix recorded");
    expect(security).toMatch(new RegExp(`override #[0-9]+ by ada .*incident 43\\n +${hot.slice(0, 7)} Emergency: disable the importer`));
    const log = sb.json<{ decision: string }[]>(["log"]);
    expect(log.filter((e) => e.decision === "fix")).toEqual([]);
    expect(sb.prodgate(["log"]).stdout).toContain(`brought: ${hot.slice(0, 7)} Emergency: disable the importer`);
    // sync does not record it late either.
    expect(sb.prodgate(["sync"]).stdout).not.toContain("security fix");
    expect(sb.json<Fix[]>(["security"])).toEqual([]);
  });

  it("an override of a promotion that lacked only its CI pass still records its security fixes", () => {
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
    const fix = work.commit("Fix auth bypass", { "auth.c": "check\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    sb.grant("security", "ada");
    const r = work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override=CI is down"], "ada");
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("recorded 1 security fix");
    expect(sb.json<Fix[]>(["security"]).map((f) => f.sha)).toEqual([fix]);
  });

  it("an admin override needs a reason, is logged, and log marks it", () => {
    work.commit("r2 unapproved");
    work.land();
    const noReason = work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override="], "ada");
    expect(noReason.output).toContain("[override-reason]");
    const notAdmin = work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override=trust me"], "dev");
    expect(notAdmin.output).toContain("only the admin role");
    const ok = work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override=incident 42"], "ada");
    expect(ok.status, ok.output).toBe(0);
    expect(ok.output).toContain("OVERRIDE");
    const entry = sb
      .json<{ decision: string; reason: string; detail: string; user: string }[]>(["log"])
      .find((e) => e.decision === "override")!;
    expect(entry).toMatchObject({ user: "ada", reason: "incident 42" });
    expect(entry.detail).toContain("overrode unapproved");
    expect(sb.prodgate(["log"]).stdout).toContain("OVERRIDE");
  });
});
