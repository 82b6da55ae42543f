// The Bazaar-side rules judged on the snapshot: ids that could be misread,
// ghosts, renumbering, client revnos, production-stable off stable's mainline.
import { describe, expect, it } from "vitest";
import { REJECTION_CODES } from "../../src/policy/codes";
import { BzrHistory, type BzrSnapshot } from "../../src/bzr/history";
import {
  bazaarRules,
  bazaarShape,
  type BzrHookInput,
  inBazaarWords,
  refUpdateOf,
  revisionIdProblem,
  type TipChange,
} from "../../src/bzr/hook";
import type { Decision } from "../../src/policy/decide";
import { printable } from "../../src/policy/message";
import type { RefClass } from "../../src/policy/refs";
import { shortSha } from "../../src/policy/types";

const BRANCHES = { devel: "devel", stable: "stable", productionStable: "production-stable", productionDevel: "production-devel" };

// a1 ← a2 ← a3 ← m4 (merges s1, from a2) ; x3 ← fox (merges a3: a foxtrot) ; g1 has a ghost left parent, g2 a ghost right parent
const snapshot: BzrSnapshot = {
  root: "/srv/bzr/project",
  branches: { devel: "a3", stable: "m4", "production-stable": "a2", "production-devel": null },
  revisions: [
    ["a1", [], "first"],
    ["a2", ["a1"], "second"],
    ["a3", ["a2"], "third"],
    ["s1", ["a2"], "side"],
    ["m4", ["a3", "s1"], "land side"],
    ["x3", ["a2"], "someone's work"],
    ["fox", ["x3", "a3"], "merge devel into my work"],
    ["g1", ["ghost-left", "a3"], "ghost on the left"],
    ["g2", ["a3", "ghost-right"], "ghost on the right"],
    ["devel", ["a3"], "an id spelled like a branch"],
  ],
};
const history = new BzrHistory(snapshot);

const accepted = (change: TipChange, code: Decision["code"] = "fast-forward"): Decision => ({
  ...refUpdateOf(change),
  accepted: true,
  code,
  reason: "",
});

describe("revisionIdProblem", () => {
  const names = new Set(["devel", "stable"]);
  it.each([
    ["dev@example.com-20261129-abcdef", null],
    ["git-v1:0123456789abcdef0123456789abcdef01234567", null],
    ["devel", "branch name"],
    ["refs/heads/x", "branch name"],
    ["0".repeat(40), "null revision"],
    ["null:", "null revision"],
    ["r7", "revno"],
    ["42", "revno"],
    ["stable~2", "revno"],
    ["deadbeef", "abbreviated id"],
    ["dev@example.com-1..stable", "range"],
    ["r2..r5", "range"],
    ["evil\u001b]0;x\u0007", "control"],
    ["a\u202eb", "bidi"],
    ["a\u2028b", "line-separator"],
  ])("%j → %s", (id, expected) => {
    const why = revisionIdProblem(id, names);
    if (expected === null) expect(why).toBeNull();
    else expect(why).toContain(expected);
  });
});

describe("bazaarShape", () => {
  const input = (update: TipChange, layout?: Record<string, string>): BzrHookInput => ({ snapshot: { ...snapshot, layout }, update });

  it("refuses every governed change while a governed branch is outside the shared repository", () => {
    const change = { branch: "devel", old: "a2", new: "a3" };
    const d = bazaarShape(
      refUpdateOf(change),
      input(change, { "production-stable": "it is stacked on another branch" }),
      history,
      BRANCHES,
    );
    expect(d?.code).toBe("unavailable");
    expect(d?.reason).toContain("production-stable");
  });

  it("refuses a new revision whose id is a branch name", () => {
    const change = { branch: "devel", old: "a3", new: "devel" };
    expect(bazaarShape(refUpdateOf(change), input(change), history, BRANCHES)?.code).toBe("bad-revision-id");
  });

  it("lets ordinary ids through", () => {
    const change = { branch: "devel", old: "a2", new: "a3" };
    expect(bazaarShape(refUpdateOf(change), input(change), history, BRANCHES)).toBeNull();
  });
});

describe("bazaarRules", () => {
  const cls = (kind: RefClass["kind"]): RefClass => ({ kind });
  it.each<[string, RefClass["kind"], TipChange, Decision["code"], string | null]>([
    ["a fast-forward along the mainline", "devel", { branch: "devel", old: "a2", new: "a3", revno: 3 }, "fast-forward", null],
    ["a foxtrot merge", "devel", { branch: "devel", old: "a3", new: "fox", revno: 4 }, "fast-forward", "renumbers"],
    ["a ghost on the left", "devel", { branch: "devel", old: "a3", new: "g1", revno: 1 }, "fast-forward", "renumbers"],
    ["a ghost on the right", "devel", { branch: "devel", old: "a3", new: "g2", revno: 4 }, "fast-forward", "renumbers"],
    ["a client's revno", "devel", { branch: "devel", old: "a2", new: "a3", revno: 999 }, "fast-forward", "renumbers"],
    ["no revno given", "devel", { branch: "devel", old: "a2", new: "a3", revno: null }, "fast-forward", null],
    [
      "a side revision on production-stable",
      "productionStable",
      { branch: "production-stable", old: "a2", new: "s1" },
      "approved",
      "unapproved",
    ],
    ["stable's mainline on production-stable", "productionStable", { branch: "production-stable", old: "a2", new: "m4" }, "approved", null],
    ["an ungoverned-by-these-rules ref", "governed", { branch: "topic", old: "a3", new: "fox" }, "fast-forward", null],
    ["an admin's override", "devel", { branch: "devel", old: "a3", new: "fox" }, "override", null],
  ])("%s", (_what, kind, change, code, expected) => {
    const d = bazaarRules(accepted(change, code), cls(kind), change, history, BRANCHES);
    expect(d?.code ?? null).toBe(expected);
    if (d) expect(d.accepted).toBe(false);
  });
});

describe("BzrHistory with ghosts", () => {
  it("ends the mainline at a ghost left parent, as Breezy does", () => {
    expect(history.revno("g1")).toBe(1);
    expect(history.onMainline("a3", "g1")).toBe(false);
    expect(history.ghostParents("g2")).toEqual(["ghost-right"]);
  });
});

describe("inBazaarWords", () => {
  it("says --overwrite where git says --force", () => {
    expect(inBazaarWords("  what to do: fetch, rebase or merge onto the current tip, and push again without --force")).toContain(
      "without --overwrite",
    );
  });

  it.each([
    ["prodgate: rejected refs/heads/production-stable [unapproved]: 1 new", "prodgate: rejected production-stable [unapproved]: 1 new"],
    ["mirrored (refs/heads/production-stable to r4)", "mirrored (production-stable to r4)"],
    [
      "  rule: a branch's old tip must stay on its new tip's first-parent chain",
      "  rule: a branch's old tip must stay on its new tip's left-hand history",
    ],
    ["prodgate: the push was refused; no ref was changed", "prodgate: the push was refused; no branch was changed"],
  ])("names branches as Bazaar users push to them: %s", (git, bzr) => {
    expect(inBazaarWords(git)).toBe(bzr);
  });

  it("gives the renumbering remedy with brz, not git", () => {
    const line = inBazaarWords(`  what to do: ${REJECTION_CODES.renumbers.remedy}`);
    expect(line).toContain("brz merge");
    expect(line).not.toMatch(/\bgit\b/);
  });
});

describe("printing revision ids and text", () => {
  it.each(["evil\u001b]0;x\u0007", "a\u202eb-cdefgh", "line\u2028sep-id", "zero\u200bwidth"])(
    "%j prints without control, bidi or line separators",
    (id) => {
      // eslint-disable-next-line no-control-regex
      const hidden = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e]/;
      expect(shortSha(`dev@example.com-${id}`)).not.toMatch(hidden);
      expect(printable(`rejected ${id}`)).not.toMatch(hidden);
    },
  );
});
