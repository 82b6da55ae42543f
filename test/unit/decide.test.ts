import { describe, expect, it } from "vitest";
import { decide, type PushContext, type UpdateFacts } from "../../src/policy/decide";
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
    ...over,
  };
}

function ctx(roles: Role[] = [], over: Partial<PushContext> = {}): PushContext {
  return { user: "dev", roles: new Set(roles), overrideReason: null, requireCi: true, stableWriters: "anyone", ...over };
}

const none = { commits: [], total: 0 };
const two = { commits: [{ sha: NEW, parents: [], subject: "x", message: "x" }], total: 2 };
const production = (over = {}) => ({
  deployable: D,
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
});
