// The operations rules: deploy tag names, target names, the deploy tag decision and the rollout check.
import { describe, expect, it } from "vitest";
import { configFromValues } from "../../src/config";
import {
  checkTarget,
  isTargetName,
  type LiveCowboy,
  parseDeployTagRef,
  splitCheckArgs,
  targetProblem,
  type TargetCheckFacts,
} from "../../src/ops/rules";
import { decide, decideWithoutFacts, type PushContext, type UpdateFacts } from "../../src/policy/decide";
import { classifyRef } from "../../src/policy/refs";
import type { Role } from "../../src/policy/types";

const BRANCHES = { devel: "devel", stable: "stable", productionStable: "production-stable", productionDevel: "production-devel" };
const ZERO = "0".repeat(40);
const NEW = "2".repeat(40);
const OLD = "1".repeat(40);

describe("target names", () => {
  it.each([
    ["production", true],
    ["app3.prod", true],
    ["qa_staging-2", true],
    ["", false],
    [".hidden", false],
    ["-rf", false],
    ["a/b", false],
    ["a..b", false],
    ["x.lock", false],
    ["app 3", false],
    ["app\u202e3", false],
    ["a".repeat(100), true],
    ["a".repeat(101), false],
  ])("%j is a target name: %s", (name, ok) => expect(isTargetName(name)).toBe(ok));

  it.each([
    [["app3"], [], null],
    [[], [], /at least one target/],
    [["app3", "bad/name"], [], /not a target name/],
    [["app3"], ["app3", "app4"], null],
    [["app9"], ["app3", "app4"], /"app9" is not a known target; the targets are: app3, app4/],
  ] as const)("targetProblem(%j, configured %j)", (names, configured, expected) => {
    const p = targetProblem(names, configured);
    if (expected === null) expect(p).toBeNull();
    else expect(p).toMatch(expected);
  });

  it("prodgate.targets is read, and a bad name is a configuration error", () => {
    const values = new Map([["prodgate.targets", ["app3.prod", "app4.prod", "app3.prod"]]]);
    expect(configFromValues(values).config.targets).toEqual(["app3.prod", "app4.prod"]);
    expect(configFromValues(new Map()).config.targets).toEqual([]);
    expect(configFromValues(new Map([["prodgate.targets", ["no/slash"]]])).errors[0]?.key).toBe("prodgate.targets");
    expect(configFromValues(new Map([["prodgate.roles.ops", ["otto"]]])).config.roles.ops).toEqual(["otto"]);
  });
});

describe("deploy tag names", () => {
  it.each([
    ["refs/tags/deploy/app3.prod/monday", { target: "app3.prod", label: "monday", valid: true }],
    ["refs/tags/deploy/app3.prod/2026/11/29", { target: "app3.prod", label: "2026/11/29", valid: true }],
    ["refs/tags/deploy/app3.prod", { target: "app3.prod", label: "", valid: false }],
    ["refs/tags/deploy/app3.prod/", { target: "app3.prod", label: "", valid: false }],
    ["refs/tags/deploy/-x/label", { target: "-x", label: "label", valid: false }],
    ["refs/tags/deploy//label", { target: "", label: "label", valid: false }],
    ["refs/tags/deployment/app3/x", null],
    ["refs/heads/deploy/app3/x", null],
    ["refs/tags/Deploy/app3/x", null],
  ])("%s", (ref, expected) => expect(parseDeployTagRef(ref)).toEqual(expected));

  it("deploy tags are governed; look-alikes are not", () => {
    expect(classifyRef("refs/tags/deploy/app3/x", BRANCHES, []).kind).toBe("deployTag");
    expect(classifyRef("refs/tags/deploy/app3", BRANCHES, []).kind).toBe("deployTag");
    expect(classifyRef("refs/heads/deploy/app3/x", BRANCHES, []).kind).toBe("ungoverned");
  });
});

function facts(ref: string, over: Partial<UpdateFacts> = {}): UpdateFacts {
  return {
    ref,
    old: ZERO,
    new: NEW,
    class: classifyRef(ref, BRANCHES, []),
    isCreate: true,
    isDelete: false,
    newType: "commit",
    isFastForward: true,
    keepsFirstParent: true,
    deployTarget: NEW,
    ...over,
  };
}

function ctx(roles: Role[], over: Partial<PushContext> = {}): PushContext {
  return { user: "someone", roles: new Set(roles), overrideReason: null, requireCi: true, stableWriters: "anyone", freeze: null, ...over };
}

describe("the decision on a deploy tag", () => {
  const TAG = "refs/tags/deploy/app3.prod/monday";
  it.each([
    ["ops creates it", facts(TAG), ctx(["ops"]), true, "deployment"],
    ["no role", facts(TAG), ctx([]), false, "role-required"],
    ["qa, security, ci and admin are not ops", facts(TAG), ctx(["qa", "security", "ci", "admin"]), false, "role-required"],
    ["no identity", facts(TAG), ctx(["ops"], { user: null }), false, "no-identity"],
    ["no label", facts("refs/tags/deploy/app3.prod"), ctx(["ops"]), false, "bad-tag-name"],
    ["moved", facts(TAG, { old: OLD, isCreate: false }), ctx(["ops"]), false, "tag-immutable"],
    ["deleted", facts(TAG, { old: OLD, new: ZERO, isCreate: false, isDelete: true }), ctx(["ops"]), false, "tag-immutable"],
    ["a tree", facts(TAG, { newType: "tree", deployTarget: null }), ctx(["ops"]), false, "not-a-commit"],
    ["a configured target", facts(TAG), ctx(["ops"], { targets: ["app3.prod"] }), true, "deployment"],
    ["a target not configured", facts(TAG), ctx(["ops"], { targets: ["app4.prod"] }), false, "unknown-target"],
    ["an admin's override of a missing role", facts(TAG), ctx(["admin"], { overrideReason: "incident" }), true, "override"],
    ["a non-admin's override", facts(TAG), ctx([], { overrideReason: "trust me" }), false, "role-required"],
  ] as const)("%s", (_name, f, c, accepted, code) => {
    const d = decide(f, c);
    expect([d.accepted, d.code]).toEqual([accepted, code]);
  });

  it.each([
    ["no role", ctx([]), "role-required"],
    ["unknown target", ctx(["ops"], { targets: ["app4.prod"] }), "unknown-target"],
    ["ops", ctx(["ops"]), null],
  ] as const)("is refused before any fact from git when it can be: %s", (_name, c, code) => {
    const d = decideWithoutFacts({ ref: TAG, old: ZERO, new: NEW, class: classifyRef(TAG, BRANCHES, []) }, c);
    expect(d?.code ?? null).toBe(code);
  });
});

const cowboyA: LiveCowboy = { id: 1, commit: "a".repeat(40), patchId: null, reason: "crash" };
const cowboyB: LiveCowboy = { id: 2, commit: null, patchId: "b".repeat(40), reason: "leak" };
const base: TargetCheckFacts = {
  target: "app3",
  rev: "abc1234",
  revOnProduction: true,
  freeze: null,
  ignoreFreeze: false,
  last: { sha: "c".repeat(40), onProduction: true },
  live: [],
  contained: new Set(),
};

describe("the rollout check", () => {
  it.each([
    ["nothing live, on production", {}, []],
    ["a live cowboy the revision lacks", { live: [cowboyA] }, [["cowboy", 1]]],
    ["a live cowboy the revision holds", { live: [cowboyA], contained: new Set([1]) }, []],
    ["two cowboys, one held", { live: [cowboyA, cowboyB], contained: new Set([1]) }, [["cowboy", 2]]],
    ["not on production-stable", { revOnProduction: false }, [["not-on-production", undefined]]],
    ["frozen", { freeze: { by: "ada", reason: "incident" } }, [["frozen", undefined]]],
    ["frozen, ignored", { freeze: { by: "ada", reason: "incident" }, ignoreFreeze: true }, []],
    ["last record off production", { last: { sha: "c".repeat(40), onProduction: false } }, [["off-production-record", undefined]]],
    ["never recorded", { last: null }, []],
    [
      "everything at once",
      { live: [cowboyA], revOnProduction: false, freeze: { by: "ada", reason: "x" }, last: { sha: "c".repeat(40), onProduction: false } },
      [
        ["cowboy", 1],
        ["not-on-production", undefined],
        ["frozen", undefined],
        ["off-production-record", undefined],
      ],
    ],
  ] as const)("%s", (_name, over, expected) => {
    const r = checkTarget({ ...base, ...(over as Partial<TargetCheckFacts>) });
    expect(r.reasons.map((x) => [x.code, x.cowboy])).toEqual(expected);
    expect(r.safe).toBe(expected.length === 0);
  });

  it("says why a matched fix does not count", () => {
    const r = checkTarget({ ...base, live: [cowboyA], why: new Map([[1, "abc1234 has aaaaaaa (ancestry) but not its change"]]) });
    expect(r.reasons[0]!.message).toContain("does not hold (abc1234 has aaaaaaa (ancestry) but not its change): rolling out");
  });

  it("names the cowboy and the revision in its line", () => {
    const r = checkTarget({ ...base, live: [cowboyB] });
    expect(r.reasons[0]!.message).toBe(
      "app3 runs cowboy #2 (patch bbbbbbb: leak), which abc1234 does not hold: rolling out would remove the hot patch",
    );
  });

  it.each([
    [["app3"], [], { targets: ["app3"], rev: null }],
    [["app3", "app4"], ["app3", "app4"], { targets: ["app3", "app4"], rev: null }],
    [["app3", "abc123"], ["app3"], { targets: ["app3"], rev: "abc123" }],
    [["app3", "app4", "r7"], ["app3", "app4"], { targets: ["app3", "app4"], rev: "r7" }],
  ])("splitCheckArgs(%j, known %j)", (args, known, expected) => expect(splitCheckArgs(args, new Set(known))).toEqual(expected));
});
