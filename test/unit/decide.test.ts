import { describe, expect, it } from "vitest";
import { decide, decideWithoutFacts, type PushContext, type UpdateFacts } from "../../src/policy/decide";
import { classifyRef } from "../../src/policy/refs";
import type { MainlineCommit, Role } from "../../src/policy/types";

const BRANCHES = { devel: "devel", stable: "stable", productionStable: "production-stable", productionDevel: "production-devel" };
const OLD = "1".repeat(40);
const NEW = "2".repeat(40);
const ZERO = "0".repeat(40);
const D: MainlineCommit = { sha: "d".repeat(40), revno: 42, parents: [], subject: "ok change", message: "ok change" };

function facts(ref: string, over: Partial<UpdateFacts> = {}): UpdateFacts {
  return {
    ref,
    old: OLD,
    new: NEW,
    class: classifyRef(ref, BRANCHES, ["refs/heads/release/*"]),
    isCreate: false,
    isDelete: false,
    newType: "commit",
    isFastForward: true,
    keepsFirstParent: true,
    ...over,
  };
}

function ctx(roles: Role[] = [], over: Partial<PushContext> = {}): PushContext {
  return { user: "dev", roles: new Set(roles), overrideReason: null, requireCi: true, stableWriters: "anyone", freeze: null, ...over };
}

const none = { commits: [], total: 0 };
const two = { commits: [{ sha: NEW, parents: [], subject: "x", message: "x" }], total: 2 };
const production = (over = {}) => ({
  deployable: D,
  tipIsApproved: true,
  unapproved: none,
  onProductionDevel: false,
  outsideBoth: none,
  ciPassed: false,
  ...over,
});

describe("decide", () => {
  const PS = "refs/heads/production-stable";
  const cases: { name: string; f: UpdateFacts; c: PushContext; code: string; accepted: boolean }[] = [
    { name: "no identity", f: facts("refs/heads/devel"), c: ctx([], { user: null }), code: "no-identity", accepted: false },
    { name: "devel fast-forward", f: facts("refs/heads/devel"), c: ctx(), code: "fast-forward", accepted: true },
    { name: "devel created", f: facts("refs/heads/devel", { old: ZERO, isCreate: true }), c: ctx(), code: "created", accepted: true },
    { name: "devel rewind", f: facts("refs/heads/devel", { isFastForward: false }), c: ctx(), code: "non-fast-forward", accepted: false },
    {
      name: "devel deleted",
      f: facts("refs/heads/devel", { new: ZERO, isDelete: true, newType: null }),
      c: ctx(),
      code: "delete-protected",
      accepted: false,
    },
    { name: "a tree pushed to devel", f: facts("refs/heads/devel", { newType: "tree" }), c: ctx(), code: "not-a-commit", accepted: false },
    {
      name: "stable to a commit on devel",
      f: facts("refs/heads/stable", { onDevel: true }),
      c: ctx(),
      code: "fast-forward",
      accepted: true,
    },
    {
      name: "stable to a commit not on devel",
      f: facts("refs/heads/stable", { onDevel: false }),
      c: ctx(),
      code: "not-on-devel",
      accepted: false,
    },
    {
      name: "stable by non-ci when ci-only",
      f: facts("refs/heads/stable", { onDevel: true }),
      c: ctx([], { stableWriters: "ci" }),
      code: "role-required",
      accepted: false,
    },
    {
      name: "stable by ci when ci-only",
      f: facts("refs/heads/stable", { onDevel: true }),
      c: ctx(["ci"], { stableWriters: "ci" }),
      code: "fast-forward",
      accepted: true,
    },
    { name: "production-devel by non-security", f: facts("refs/heads/production-devel"), c: ctx(), code: "role-required", accepted: false },
    {
      name: "production-devel by security",
      f: facts("refs/heads/production-devel"),
      c: ctx(["security"]),
      code: "fast-forward",
      accepted: true,
    },
    { name: "production-stable approved", f: facts(PS, { production: production() }), c: ctx(), code: "approved", accepted: true },
    {
      name: "production-stable unapproved",
      f: facts(PS, { production: production({ unapproved: two }) }),
      c: ctx(),
      code: "unapproved",
      accepted: false,
    },
    {
      name: "promotion without CI pass",
      f: facts(PS, { production: production({ unapproved: two, onProductionDevel: true }) }),
      c: ctx(["security"]),
      code: "no-ci-pass",
      accepted: false,
    },
    {
      name: "promotion without CI pass when CI is not required",
      f: facts(PS, { production: production({ unapproved: two, onProductionDevel: true, ciPassed: true }) }),
      c: ctx(["security"], { requireCi: false }),
      code: "promotion",
      accepted: true,
    },
    {
      name: "promotion with CI pass",
      f: facts(PS, { production: production({ unapproved: two, onProductionDevel: true, ciPassed: true }) }),
      c: ctx(["security"]),
      code: "promotion",
      accepted: true,
    },
    {
      name: "promotion of commits on neither branch",
      f: facts(PS, { production: production({ unapproved: two, onProductionDevel: true, outsideBoth: two, ciPassed: true }) }),
      c: ctx(["security"]),
      code: "not-on-production-devel",
      accepted: false,
    },
    {
      name: "promotion of a tip not on production-devel",
      f: facts(PS, { production: production({ unapproved: two, ciPassed: true }) }),
      c: ctx(["security"]),
      code: "not-on-production-devel",
      accepted: false,
    },
    {
      name: "production-stable rewind",
      f: facts(PS, { isFastForward: false }),
      c: ctx(["admin", "security"]),
      code: "non-fast-forward",
      accepted: false,
    },
    {
      name: "production-stable: an ancestor of D that is not an approved stable revision",
      f: facts(PS, { production: production({ tipIsApproved: false }) }),
      c: ctx(),
      code: "unapproved",
      accepted: false,
    },
    {
      name: "production-stable: a security user pushing a non-candidate off production-devel",
      f: facts(PS, { production: production({ tipIsApproved: false }) }),
      c: ctx(["security"]),
      code: "unapproved",
      accepted: false,
    },
    {
      name: "production-stable: a tested promotion of a tip that is on production-devel",
      f: facts(PS, { production: production({ tipIsApproved: false, onProductionDevel: true, ciPassed: true }) }),
      c: ctx(["security"]),
      code: "promotion",
      accepted: true,
    },
    {
      name: "production-stable frozen: approved content is refused",
      f: facts(PS, { production: production() }),
      c: ctx([], { freeze: { by: "ada", reason: "incident 42" } }),
      code: "frozen",
      accepted: false,
    },
    {
      name: "production-stable frozen: the qa and security roles are refused too",
      f: facts(PS, { production: production() }),
      c: ctx(["qa", "security"], { freeze: { by: "ada", reason: "incident 42" } }),
      code: "frozen",
      accepted: false,
    },
    {
      name: "production-stable frozen: a tested security promotion passes",
      f: facts(PS, { production: production({ unapproved: two, onProductionDevel: true, ciPassed: true }) }),
      c: ctx(["security"], { freeze: { by: "ada", reason: "incident 42" } }),
      code: "promotion",
      accepted: true,
    },
    {
      name: "production-stable frozen: an admin's override passes",
      f: facts(PS, { production: production() }),
      c: ctx(["admin"], { freeze: { by: "ada", reason: "incident 42" }, overrideReason: "ship the fix" }),
      code: "override",
      accepted: true,
    },
    {
      name: "production-stable frozen: unapproved content keeps its own code",
      f: facts(PS, { production: production({ unapproved: two }) }),
      c: ctx([], { freeze: { by: "ada", reason: "incident 42" } }),
      code: "unapproved",
      accepted: false,
    },
    {
      name: "a freeze does not touch devel",
      f: facts("refs/heads/devel"),
      c: ctx([], { freeze: { by: "ada", reason: "incident 42" } }),
      code: "fast-forward",
      accepted: true,
    },
    ...(["devel", "stable", "production-devel", "production-stable"] as const).map((branch) => ({
      name: `a foxtrot merge to ${branch}`,
      f: facts(`refs/heads/${branch}`, { keepsFirstParent: false, onDevel: true, production: production() }),
      c: ctx(["security", "ci"]),
      code: "renumbers",
      accepted: false,
    })),
    {
      name: "creating a branch keeps its (empty) first-parent chain",
      f: facts("refs/heads/devel", { old: ZERO, isCreate: true, keepsFirstParent: true }),
      c: ctx(),
      code: "created",
      accepted: true,
    },
    {
      name: "a configured governed ref has no revision numbers to keep",
      f: facts("refs/heads/release/1.0", { keepsFirstParent: false }),
      c: ctx(),
      code: "fast-forward",
      accepted: true,
    },
    {
      name: "verdict tag by qa on mainline",
      f: facts("refs/tags/qa/ok/r42", { old: ZERO, isCreate: true, verdictTarget: D }),
      c: ctx(["qa"]),
      code: "verdict",
      accepted: true,
    },
    {
      name: "verdict tag by non-qa",
      f: facts("refs/tags/qa/ok/r42", { old: ZERO, isCreate: true, verdictTarget: D }),
      c: ctx(),
      code: "role-required",
      accepted: false,
    },
    {
      name: "verdict tag labelled with another revision's revno",
      f: facts("refs/tags/qa/ok/r41", { old: ZERO, isCreate: true, verdictTarget: D }),
      c: ctx(["qa"]),
      code: "verdict-label",
      accepted: false,
    },
    {
      name: "verdict tag whose label is not a revno",
      f: facts("refs/tags/qa/ok/friday-build", { old: ZERO, isCreate: true, verdictTarget: D }),
      c: ctx(["qa"]),
      code: "verdict",
      accepted: true,
    },
    {
      name: "verdict tag off the mainline",
      f: facts("refs/tags/qa/ok/x", { old: ZERO, isCreate: true, verdictTarget: null }),
      c: ctx(["qa"]),
      code: "verdict-target",
      accepted: false,
    },
    {
      name: "unknown verdict",
      f: facts("refs/tags/qa/great/x", { old: ZERO, isCreate: true }),
      c: ctx(["qa"]),
      code: "bad-tag-name",
      accepted: false,
    },
    {
      name: "verdict tag without label",
      f: facts("refs/tags/qa/ok", { old: ZERO, isCreate: true }),
      c: ctx(["qa"]),
      code: "bad-tag-name",
      accepted: false,
    },
    {
      name: "verdict tag moved",
      f: facts("refs/tags/qa/ok/r42", { verdictTarget: D }),
      c: ctx(["qa"]),
      code: "tag-immutable",
      accepted: false,
    },
    {
      name: "verdict tag deleted",
      f: facts("refs/tags/qa/ok/r42", { new: ZERO, isDelete: true, newType: null }),
      c: ctx(["qa"]),
      code: "tag-immutable",
      accepted: false,
    },
    {
      name: "ci tag by ci",
      f: facts("refs/tags/ci/pass/build-7", { old: ZERO, isCreate: true, ciTarget: NEW }),
      c: ctx(["ci"]),
      code: "ci-result",
      accepted: true,
    },
    {
      name: "ci tag by non-ci",
      f: facts("refs/tags/ci/pass/build-7", { old: ZERO, isCreate: true, ciTarget: NEW }),
      c: ctx(["qa"]),
      code: "role-required",
      accepted: false,
    },
    {
      name: "configured governed ref rewind",
      f: facts("refs/heads/release/1.0", { isFastForward: false }),
      c: ctx(),
      code: "non-fast-forward",
      accepted: false,
    },
    {
      name: "admin override with a reason",
      f: facts(PS, { production: production({ unapproved: two }) }),
      c: ctx(["admin"], { overrideReason: "outage #12" }),
      code: "override",
      accepted: true,
    },
    {
      name: "admin override without a reason",
      f: facts(PS, { production: production({ unapproved: two }) }),
      c: ctx(["admin"], { overrideReason: " " }),
      code: "override-reason",
      accepted: false,
    },
    {
      name: "override by a non-admin is ignored",
      f: facts(PS, { production: production({ unapproved: two }) }),
      c: ctx(["qa"], { overrideReason: "please" }),
      code: "unapproved",
      accepted: false,
    },
    {
      name: "override of an accepted update changes nothing",
      f: facts("refs/heads/devel"),
      c: ctx(["admin"], { overrideReason: "why not" }),
      code: "fast-forward",
      accepted: true,
    },
  ];
  it.each(cases)("$name → $code", ({ f, c, code, accepted }) => {
    const d = decide(f, c);
    expect(d.code).toBe(code);
    expect(d.accepted).toBe(accepted);
    expect(d.reason.length).toBeGreaterThan(0);
  });

  it("an override records what it overrode", () => {
    const d = decide(facts(PS, { production: production({ unapproved: two }) }), ctx(["admin"], { overrideReason: "outage" }));
    expect(d.overrode?.code).toBe("unapproved");
  });

  it("a rejection for unapproved commits lists them and the deployable revision", () => {
    const d = decide(facts(PS, { production: production({ unapproved: two }) }), ctx());
    expect(d.commits?.total).toBe(2);
    expect(d.details?.[0]).toContain("r42");
  });

  it("a renumbering rejection says the pusher's merge put their own side first", () => {
    const d = decide(facts("refs/heads/devel", { keepsFirstParent: false }), ctx());
    expect(d.reason).toContain("put the pusher's own side first");
  });

  it("a frozen rejection says who froze it and why", () => {
    const d = decide(facts(PS, { production: production() }), ctx([], { freeze: { by: "ada", reason: "incident 42" } }));
    expect(d.reason).toBe("production-stable is frozen by ada (incident 42)");
  });
});

describe("decideWithoutFacts", () => {
  const tag = (ref: string, over: { old?: string; new?: string } = {}) => ({
    ref,
    old: over.old ?? ZERO,
    new: over.new ?? NEW,
    class: classifyRef(ref, BRANCHES, []),
  });
  const cases: { name: string; u: ReturnType<typeof tag>; c: PushContext; code: string | null }[] = [
    { name: "a verdict tag without the qa role", u: tag("refs/tags/qa/ok/x"), c: ctx(), code: "role-required" },
    { name: "a CI tag without the ci role", u: tag("refs/tags/ci/pass/x"), c: ctx(["qa"]), code: "role-required" },
    { name: "a badly named tag", u: tag("refs/tags/qa/great/x"), c: ctx(), code: "bad-tag-name" },
    { name: "a moved verdict tag", u: tag("refs/tags/qa/ok/x", { old: OLD }), c: ctx(["qa"]), code: "tag-immutable" },
    { name: "no identity", u: tag("refs/heads/devel", { old: OLD }), c: ctx([], { user: null }), code: "no-identity" },
    { name: "a verdict tag by qa needs its target", u: tag("refs/tags/qa/ok/x"), c: ctx(["qa"]), code: null },
    { name: "a branch needs its facts", u: tag("refs/heads/devel", { old: OLD }), c: ctx(), code: null },
    {
      name: "an admin's override still applies",
      u: tag("refs/tags/qa/ok/x"),
      c: ctx(["admin"], { overrideReason: "why" }),
      code: "override",
    },
  ];
  it.each(cases)("$name → $code", ({ u, c, code }) => {
    expect(decideWithoutFacts(u, c)?.code ?? null).toBe(code);
  });

  it("gives the answer decide() gives with every fact", () => {
    for (const { u, c, code } of cases) {
      if (code === null) continue;
      const full = decide(
        {
          ...u,
          isCreate: u.old === ZERO,
          isDelete: false,
          newType: "commit",
          isFastForward: true,
          keepsFirstParent: true,
          verdictTarget: D,
        },
        c,
      );
      expect(full.code).toBe(code);
    }
  });
});
