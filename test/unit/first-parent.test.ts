// keepsFirstParent for devel and stable: a walk over the commits a push adds, from the push's own log.
import { describe, expect, it } from "vitest";
import { firstParentReaches } from "../../src/engine/facts";
import type { CommitInfo } from "../../src/policy/types";

const c = (sha: string, ...parents: string[]): CommitInfo => ({ sha, parents, subject: sha, message: sha });

describe("firstParentReaches", () => {
  // History: O (old tip) ← A ← B; a side chain F ← S (F an ancestor of O); merges of both kinds.
  const cases: { name: string; added: CommitInfo[]; now: string; expected: boolean }[] = [
    { name: "a plain fast-forward", added: [c("B", "A"), c("A", "O")], now: "B", expected: true },
    { name: "a merge that keeps the old tip first", added: [c("M", "O", "S"), c("S", "F")], now: "M", expected: true },
    { name: "a foxtrot merge: the side first, the old tip second", added: [c("M", "S", "O"), c("S", "F")], now: "M", expected: false },
    {
      name: "a foxtrot merge buried under later commits",
      added: [c("C", "M"), c("M", "S", "O"), c("S", "F")],
      now: "C",
      expected: false,
    },
    { name: "nothing added (the same tip)", added: [], now: "O", expected: true },
    { name: "an incomplete list never says yes", added: [c("B", "A")], now: "B", expected: false },
    { name: "a root commit on the way", added: [c("B", "A"), c("A")], now: "B", expected: false },
  ];
  it.each(cases)("$name → $expected", ({ added, now, expected }) => {
    expect(firstParentReaches(added, now, "O")).toBe(expected);
  });
});
