// production-stable's rule for security fixes, decided in the pure core: which fixes a new tip
// must be checked for, which it drops, and what a push that drops one gets.
import { describe, expect, it } from "vitest";
import { decide, type PushContext, type UpdateFacts } from "../../src/policy/decide";
import { describeDropped, droppedFixes, fixBase, fixesToCheck, type RequiredFix, touchesPaths } from "../../src/policy/fixes";
import { classifyRef } from "../../src/policy/refs";
import type { MainlineCommit, Role } from "../../src/policy/types";

const F1 = "f1".repeat(20);
const F2 = "f2".repeat(20);
const OLD = "0a".repeat(20);
const NEW = "0b".repeat(20);

const fix = (sha: string, over: Partial<RequiredFix> = {}): RequiredFix => ({
  sha,
  subject: `fix ${sha.slice(0, 2)}`,
  retired: false,
  heldAt: OLD,
  ...over,
});

describe("touchesPaths", () => {
  const cases: [string, string[], string[], boolean][] = [
    ["the same file", ["lib.c"], ["lib.c"], true],
    ["another file", ["lib.c"], ["other.c"], false],
    ["a file under the fix's path, now a directory", ["lib"], ["lib/x.c"], true],
    ["the fix's file's directory replaced by a file", ["lib/x.c"], ["lib"], true],
    ["a name that only starts like it", ["lib"], ["library.c"], false],
    ["nothing changed", ["lib.c"], [], false],
    ["a directory two levels above the fix's file replaced by a file", ["a/b/c/d.c"], ["a/b"], true],
    ["a file deep under the fix's path, now a directory", ["a/b"], ["a/b/c/d/e.c"], true],
    ["names sorted just before and after the fix's directory", ["lib"], ["lib-x/y.c", "lib.c", "lib0/z.c", "li/b"], false],
    ["one of many paths, the other side of many changes", ["x/1", "x/2", "lib"], ["a", "b/c", "lib/deep/file", "z"], true],
  ];
  it.each(cases)("%s", (_name, paths, changed, expected) => expect(touchesPaths(paths, new Set(changed))).toBe(expected));

  it("costs about the sizes of both sides, not their product: 2,000 paths of a fix against 500,000 changed paths", () => {
    const paths = Array.from({ length: 2000 }, (_, i) => `src/mod${i}/file.c`);
    const changed = new Set(Array.from({ length: 500_000 }, (_, i) => `gen/d${i % 1000}/f${i}.txt`));
    const started = Date.now();
    expect(touchesPaths(paths, changed)).toBe(false);
    expect(touchesPaths([...paths, "gen/d7"], changed)).toBe(true);
    // Comparing every pair took 43 s here; a few hundred milliseconds are the sort.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("fixesToCheck", () => {
  const cases: {
    name: string;
    fixes: RequiredFix[];
    paths: [string, string[]][];
    changed: [string, string[] | null][];
    check: string[];
    unchanged: string[];
    missing: string[];
  }[] = [
    {
      name: "a fix whose paths the move leaves alone is held without a check",
      fixes: [fix(F1)],
      paths: [[F1, ["auth.c"]]],
      changed: [[OLD, ["other.c"]]],
      check: [],
      unchanged: [F1],
      missing: [],
    },
    {
      name: "a fix whose file changed is checked",
      fixes: [fix(F1), fix(F2)],
      paths: [
        [F1, ["auth.c"]],
        [F2, ["lib.c"]],
      ],
      changed: [[OLD, ["auth.c"]]],
      check: [F1],
      unchanged: [F2],
      missing: [],
    },
    {
      name: "a retired fix is never checked",
      fixes: [fix(F1, { retired: true })],
      paths: [[F1, ["auth.c"]]],
      changed: [[OLD, ["auth.c"]]],
      check: [],
      unchanged: [],
      missing: [],
    },
    {
      name: "a fix whose commit the repository lacks is skipped",
      fixes: [fix(F1)],
      paths: [],
      changed: [[OLD, ["auth.c"]]],
      check: [],
      unchanged: [],
      missing: [F1],
    },
    {
      name: "a fix never verified is measured from itself",
      fixes: [fix(F1, { heldAt: null })],
      paths: [[F1, ["auth.c"]]],
      changed: [
        [OLD, []],
        [F1, ["auth.c"]],
      ],
      check: [F1],
      unchanged: [],
      missing: [],
    },
    {
      name: "a base git could not diff: checked",
      fixes: [fix(F1)],
      paths: [[F1, ["auth.c"]]],
      changed: [[OLD, null]],
      check: [F1],
      unchanged: [],
      missing: [],
    },
    {
      name: "a base git gave no answer for: checked",
      fixes: [fix(F1)],
      paths: [[F1, ["auth.c"]]],
      changed: [],
      check: [F1],
      unchanged: [],
      missing: [],
    },
  ];
  it.each(cases)("$name", (c) => {
    const got = fixesToCheck(
      c.fixes,
      new Map(c.paths),
      new Map(c.changed.map(([base, p]) => [base, p === null ? null : new Set(p)] as const)),
    );
    expect(got.check.map((f) => f.sha)).toEqual(c.check);
    expect(got.unchanged.map((f) => f.sha)).toEqual(c.unchanged);
    expect(got.missing.map((f) => f.sha)).toEqual(c.missing);
  });

  it("measures a fix from where it was last verified held, else from itself", () => {
    expect(fixBase(fix(F1))).toBe(OLD);
    expect(fixBase(fix(F1, { heldAt: null }))).toBe(F1);
  });
});

describe("droppedFixes", () => {
  it("drops exactly the checked fixes the tip does not hold", () => {
    expect(droppedFixes([fix(F1), fix(F2)], new Set([F2])).map((f) => f.sha)).toEqual([F1]);
    expect(droppedFixes([fix(F1), fix(F2)], new Set([F1, F2]))).toEqual([]);
    expect(droppedFixes([fix(F1, { retired: true })], new Set())).toEqual([]);
  });

  it("names each fix by short sha and subject, at most three", () => {
    const many = [fix(F1), fix(F2), fix("f3".repeat(20)), fix("f4".repeat(20))];
    expect(describeDropped(many.slice(0, 1), NEW)).toBe(`0b0b0b0 drops the change of security fix f1f1f1f "fix f1"`);
    expect(describeDropped(many, NEW)).toContain("and 1 more");
  });
});

describe("a push to production-stable that drops a fix", () => {
  const D: MainlineCommit = { sha: NEW, revno: 5, parents: [], subject: "ok", message: "ok" };
  const none = { commits: [], total: 0 };
  const BRANCHES = { devel: "devel", stable: "stable", productionStable: "production-stable", productionDevel: "production-devel" };
  const PS = "refs/heads/production-stable";
  const facts = (production: Partial<NonNullable<UpdateFacts["production"]>>): UpdateFacts => ({
    ref: PS,
    old: OLD,
    new: NEW,
    class: classifyRef(PS, BRANCHES, []),
    isCreate: false,
    isDelete: false,
    newType: "commit",
    isFastForward: true,
    keepsFirstParent: true,
    production: {
      deployable: D,
      tipIsApproved: true,
      unapproved: none,
      onProductionDevel: false,
      outsideBoth: none,
      ciPassed: true,
      ...production,
    },
  });
  const ctx = (roles: Role[], over: Partial<PushContext> = {}): PushContext => ({
    user: "dev",
    roles: new Set(roles),
    overrideReason: null,
    requireCi: true,
    stableWriters: "anyone",
    freeze: null,
    ...over,
  });
  const dropped = [{ sha: F1, subject: "Fix auth bypass" }];
  const two = { commits: [{ sha: NEW, parents: [], subject: "x", message: "x" }], total: 1 };
  const cases: { name: string; f: UpdateFacts; c: PushContext; code: string; accepted: boolean }[] = [
    { name: "approved, keeping every fix", f: facts({ dropsFixes: [] }), c: ctx([]), code: "approved", accepted: true },
    { name: "approved, dropping a fix", f: facts({ dropsFixes: dropped }), c: ctx([]), code: "drops-fix", accepted: false },
    {
      name: "a security promotion dropping a fix",
      f: facts({ dropsFixes: dropped, tipIsApproved: false, unapproved: two, onProductionDevel: true }),
      c: ctx(["security"]),
      code: "drops-fix",
      accepted: false,
    },
    {
      name: "an admin's override of it",
      f: facts({ dropsFixes: dropped }),
      c: ctx(["admin"], { overrideReason: "incident 7" }),
      code: "override",
      accepted: true,
    },
    {
      name: "an override attempted without the admin role",
      f: facts({ dropsFixes: dropped }),
      c: ctx([], { overrideReason: "trust me" }),
      code: "drops-fix",
      accepted: false,
    },
    {
      name: "frozen: the freeze is said first",
      f: facts({ dropsFixes: dropped }),
      c: ctx([], { freeze: { by: "ada", reason: "incident" } }),
      code: "frozen",
      accepted: false,
    },
  ];
  it.each(cases)("$name", ({ f, c, code, accepted }) => {
    const d = decide(f, c);
    expect(d.code).toBe(code);
    expect(d.accepted).toBe(accepted);
  });

  it("names the fix and says what to do", () => {
    const d = decide(facts({ dropsFixes: dropped }), ctx([]));
    expect(d.reason).toBe(`0b0b0b0 drops the change of security fix f1f1f1f "Fix auth bypass"`);
    expect(d.details?.join("\n")).toContain("Fix auth bypass");
  });
});
