import { describe, expect, it } from "vitest";
import {
  couldChangeDeployable,
  deployableRevision,
  type MarkerTrust,
  MAX_ROLLBACK_TARGETS,
  rollbackTargets,
} from "../../src/policy/deployable";
import type { MainlineCommit, Verdict, VerdictRecord } from "../../src/policy/types";

/** A mainline from r<first>: each entry is [message, recorded verdict or null]. */
function mainline(first: number, specs: [string, Verdict | null][]) {
  const commits: MainlineCommit[] = specs.map(([message], i) => {
    const revno = first + i;
    const sha = (revno.toString(16).padStart(4, "0") + "ab").repeat(8).slice(0, 40);
    return { sha, revno, parents: [], subject: message.split("\n")[0]!, message };
  });
  const verdicts = new Map<string, VerdictRecord>();
  specs.forEach(([, v], i) => {
    if (v) verdicts.set(commits[i]!.sha, { sha: commits[i]!.sha, verdict: v, user: "quinn", at: "2026-01-01T00:00:00Z" });
  });
  return { commits, verdicts };
}

function walk(first: number, specs: [string, Verdict | null][], base: MainlineCommit | null = null, markers: MarkerTrust = "anyone") {
  const { commits, verdicts } = mainline(first, specs);
  const r = deployableRevision({ segment: commits, base, verdicts, markers });
  return {
    d: r.deployable?.revno ?? null,
    blocker: r.blocker ? `r${r.blocker.commit.revno} ${r.blocker.reason}` : null,
    candidates: r.candidates.map((c) => c.revno),
    r,
  };
}

const BASE: MainlineCommit = { sha: "b".repeat(40), revno: 40, parents: [], subject: "base", message: "base" };

describe("deployableRevision", () => {
  const cases: {
    name: string;
    specs: [string, Verdict | null][];
    d: number | null;
    blocker: string | null;
    base?: MainlineCommit | null;
  }[] = [
    {
      name: "the SPEC's example: r43 bad, r45 needstesting, r46 rolls back 43 → r42",
      specs: [
        ["r41", "ok"],
        ["r42", "ok"],
        ["r43", "bad"],
        ["r44", "ok"],
        ["r45", null],
        ["r46 [rollback=43]", "ok"],
      ],
      d: 42,
      blocker: "r45 needstesting",
      base: BASE,
    },
    {
      name: "the SPEC's example once r45 is ok → r46",
      specs: [
        ["r41", "ok"],
        ["r42", "ok"],
        ["r43", "bad"],
        ["r44", "ok"],
        ["r45", "ok"],
        ["r46 [rollback=43]", "ok"],
      ],
      d: 46,
      blocker: null,
      base: BASE,
    },
    {
      name: "a bad commit without rollback stops the walk",
      specs: [
        ["r41", "ok"],
        ["r42", "bad"],
        ["r43", "ok"],
      ],
      d: 41,
      blocker: "r42 bad",
      base: BASE,
    },
    {
      name: "nothing between a bad commit and its rollback can be D",
      specs: [
        ["r41", "bad"],
        ["r42", "ok"],
        ["r43 [rollback=r41]", null],
      ],
      d: 40,
      blocker: "r43 needstesting",
      base: BASE,
    },
    {
      name: "a rollback that lands before it is approved, then is approved",
      specs: [
        ["r41", "bad"],
        ["r42 [rollback=41]", "ok"],
      ],
      d: 42,
      blocker: null,
      base: BASE,
    },
    {
      name: "[no-qa] and [testfix] count as untestable",
      specs: [
        ["r41 [no-qa] docs", null],
        ["r42 fix test [testfix]", null],
        ["r43", null],
      ],
      d: 42,
      blocker: "r43 needstesting",
      base: BASE,
    },
    {
      name: "a recorded bad verdict beats [no-qa]",
      specs: [["r41 [no-qa]", "bad"]],
      d: 40,
      blocker: "r41 bad",
      base: BASE,
    },
    {
      name: "needstesting recorded over [no-qa] falls back to the message",
      specs: [["r41 [no-qa]", "needstesting"]],
      d: 41,
      blocker: null,
      base: BASE,
    },
    { name: "an empty segment leaves D at the base", specs: [], d: 40, blocker: null, base: BASE },
    { name: "an empty stable has no D", specs: [], d: null, blocker: null, base: null },
    { name: "no base and the first commit unapproved: no D", specs: [["r1", null]], d: null, blocker: "r1 needstesting", base: null },
    {
      name: "untestable counts like ok",
      specs: [
        ["r1", "untestable"],
        ["r2", "ok"],
      ],
      d: 2,
      blocker: null,
      base: null,
    },
    {
      name: "two bad commits rolled back by one commit",
      specs: [
        ["r41", "bad"],
        ["r42", "bad"],
        ["r43 [rollback=41] [rollback=42]", "ok"],
        ["r44", "ok"],
      ],
      d: 44,
      blocker: null,
      base: BASE,
    },
    {
      name: "a rollback naming a later commit does not clear an earlier bad one",
      specs: [
        ["r41", "bad"],
        ["r42 [rollback=43]", "ok"],
        ["r43", "ok"],
      ],
      d: 40,
      blocker: "r41 bad",
      base: BASE,
    },
  ];
  it.each(cases)("$name", ({ specs, d, blocker, base }) => {
    const first = base ? base.revno + 1 : 1;
    const result = walk(first, specs, base ?? null);
    expect(result.d).toBe(d);
    expect(result.blocker).toBe(blocker);
  });

  it("a rollback never counts as untestable by a marker", () => {
    const r = walk(
      41,
      [
        ["r41", "bad"],
        ["Revert nothing [rollback=r41] [no-qa]", null],
      ],
      BASE,
    );
    expect(r.d).toBe(40);
    expect(r.blocker).toBe("r42 needstesting");
    expect(r.r.entries[1]).toMatchObject({ verdict: "needstesting", markerIgnored: true });
  });
});

describe("candidates: the revisions that are, or were, deployable", () => {
  const cases: { name: string; specs: [string, Verdict | null][]; candidates: number[] }[] = [
    {
      name: "every approved revision up to D",
      specs: [
        ["r41", "ok"],
        ["r42 [no-qa]", null],
        ["r43", "untestable"],
        ["r44", null],
        ["r45", "ok"],
      ],
      candidates: [41, 42, 43],
    },
    {
      name: "a bad revision and what it holds are not, its rollback is",
      specs: [
        ["r41", "ok"],
        ["r42", "bad"],
        ["r43", "ok"],
        ["r44 [rollback=r42]", "ok"],
        ["r45", "ok"],
      ],
      candidates: [41, 44, 45],
    },
    {
      name: "r2 bad with r3 rolling it back: r2 alone is never one",
      specs: [
        ["r41", "bad"],
        ["r42 [rollback=r41]", "ok"],
      ],
      candidates: [42],
    },
    {
      name: "nothing after the first unapproved revision",
      specs: [
        ["r41", null],
        ["r42", "ok"],
      ],
      candidates: [],
    },
    {
      name: "a rollback still awaiting its verdict holds what lies before it",
      specs: [
        ["r41", "bad"],
        ["r42", "ok"],
        ["r43 [rollback=41]", null],
      ],
      candidates: [],
    },
    {
      name: "nothing after an unrolled-back bad revision",
      specs: [
        ["r41", "ok"],
        ["r42", "bad"],
        ["r43", "ok"],
      ],
      candidates: [41],
    },
  ];
  it.each(cases)("$name", ({ specs, candidates }) => {
    const r = walk(41, specs, BASE);
    expect(r.candidates).toEqual(candidates);
    // D is the newest candidate, or the base when there is none.
    expect(r.d).toBe(candidates.at(-1) ?? 40);
  });
});

describe("marker trust", () => {
  const specs: [string, Verdict | null][] = [
    ["r41 docs [no-qa]", null],
    ["r42 test fix [testfix]", null],
  ];
  const shaOf = (revno: number) => mainline(revno, [["x", null]]).commits[0]!.sha;
  const cases: { name: string; markers: MarkerTrust; d: number; sources: string[] }[] = [
    { name: "anyone: every marker counts", markers: "anyone", d: 42, sources: ["message-tag", "message-tag"] },
    { name: "nobody vouched: no marker counts", markers: new Map(), d: 40, sources: ["default", "default"] },
    {
      name: "only the vouched-for commit counts",
      markers: new Map([[shaOf(41), { user: "cid", role: "ci" }]]),
      d: 41,
      sources: ["message-tag", "default"],
    },
    {
      name: "a vouch for another commit changes nothing",
      markers: new Map([[shaOf(42), { user: "cid", role: "ci" }]]),
      d: 40,
      sources: ["default", "message-tag"],
    },
  ];
  it.each(cases)("$name", ({ markers, d, sources }) => {
    const r = walk(41, specs, BASE, markers);
    expect(r.d).toBe(d);
    expect(r.r.entries.map((e) => e.source)).toEqual(sources);
  });

  it("says who vouched, and flags an ignored marker", () => {
    const r = walk(41, specs, BASE, new Map([[shaOf(41), { user: "cid", role: "ci" }]]));
    expect(r.r.entries[0]).toMatchObject({ verdict: "untestable", vouchedBy: { user: "cid", role: "ci" } });
    expect(r.r.entries[1]).toMatchObject({ verdict: "needstesting", markerIgnored: true });
  });
});

describe("rollback markers cannot make the walk slow", () => {
  it(`honours the first ${MAX_ROLLBACK_TARGETS} targets of a message only`, () => {
    const filler = Array.from({ length: MAX_ROLLBACK_TARGETS }, (_, i) => `[rollback=${900 + i}]`).join(" ");
    const r = walk(
      41,
      [
        ["r41", "bad"],
        [`Revert ${filler} [rollback=41]`, "ok"],
      ],
      BASE,
    );
    expect(rollbackTargets(`${filler} [rollback=41]`)).toHaveLength(MAX_ROLLBACK_TARGETS);
    expect(r.blocker).toBe("r41 bad");
  });

  it("reads each commit of the segment a bounded number of times, whatever the markers say", () => {
    // 2,000 revisions, each naming 20,000 rollback targets (revnos and sha prefixes of every length).
    const n = 2000;
    const targets = Array.from(
      { length: 20_000 },
      (_, i) => `[rollback=${i % 2 ? i : (i * 7919).toString(16).padStart(4 + (i % 30), "a")}]`,
    ).join("");
    const specs: [string, Verdict | null][] = Array.from({ length: n }, (_, i) => [`r${i + 1} ${targets}`, "ok"]);
    const { commits, verdicts } = mainline(1, specs);
    let reads = 0;
    const counted = new Proxy(commits, {
      get(target, key, receiver) {
        // Stop a quadratic walk early instead of waiting for it.
        if (typeof key === "string" && /^[0-9]+$/.test(key) && ++reads > n * 50) throw new Error(`read the segment ${reads} times`);
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const r = deployableRevision({ segment: counted, base: null, verdicts, markers: "anyone" });
    expect(r.deployable?.revno).toBe(n);
    // A walk comparing each target with each earlier commit reads the segment ~n²·16 times.
    expect(reads).toBeLessThan(n * 50);
  });
});

describe("rollback targets", () => {
  it("a sha prefix naming two revisions is ambiguous and rolls back neither", () => {
    const { commits, verdicts } = mainline(41, [
      ["r41", "bad"],
      ["r42", "bad"],
      ["r43", "ok"],
    ]);
    verdicts.delete(commits[0]!.sha);
    verdicts.delete(commits[1]!.sha);
    commits[0]!.sha = `abcd1${"0".repeat(35)}`;
    commits[1]!.sha = `abcd2${"0".repeat(35)}`;
    verdicts.set(commits[0]!.sha, { sha: commits[0]!.sha, verdict: "bad", user: "q", at: "" });
    verdicts.set(commits[1]!.sha, { sha: commits[1]!.sha, verdict: "bad", user: "q", at: "" });
    commits[2]!.message = "Revert [rollback=abcd]";
    const r = deployableRevision({ segment: commits, base: BASE, verdicts, markers: "anyone" });
    expect(r.blocker?.commit.revno).toBe(41);
    commits[2]!.message = "Revert [rollback=abcd1] [rollback=abcd2]";
    expect(deployableRevision({ segment: commits, base: BASE, verdicts, markers: "anyone" }).deployable?.revno).toBe(43);
  });

  it("takes a rollback naming a sha prefix", () => {
    const { commits, verdicts } = mainline(41, [
      ["r41", "bad"],
      ["r42", "ok"],
    ]);
    commits[1]!.message = `revert [rollback=${commits[0]!.sha.slice(0, 10)}]`;
    const r = deployableRevision({ segment: commits, base: BASE, verdicts, markers: "anyone" });
    expect(r.deployable?.revno).toBe(42);
    expect(r.entries[0]!.rolledBackBy?.revno).toBe(42);
  });

  it("marks commits held for a rollback", () => {
    const { r } = walk(
      41,
      [
        ["r41", "bad"],
        ["r42", "ok"],
        ["r43 [rollback=41]", "ok"],
      ],
      BASE,
    );
    expect(r.entries.map((e) => !!e.heldForRollback)).toEqual([false, true, false]);
  });

  it("treats merges on the mainline like any other commit", () => {
    const { commits, verdicts } = mainline(41, [
      ["Merge branch 'feature'", "ok"],
      ["r42", null],
    ]);
    commits[0]!.parents = ["a".repeat(40), "c".repeat(40)];
    const r = deployableRevision({ segment: commits, base: BASE, verdicts, markers: "anyone" });
    expect(r.deployable?.revno).toBe(41);
  });
});

describe("rollbackTargets", () => {
  it.each([
    ["[rollback=43]", ["43"]],
    ["[rollback=r43]", ["43"]],
    ["Revert X [rollback=abc1234] and [rollback=12]", ["abc1234", "12"]],
    ["[ROLLBACK=AB12CD]", ["ab12cd"]],
    ["no tag here", []],
    ["[rollback=]", []],
  ])("%s", (message, expected) => {
    expect(rollbackTargets(message)).toEqual(expected);
  });
});

describe("couldChangeDeployable", () => {
  const cases: { name: string; added: [string, Verdict | null][]; expected: boolean }[] = [
    {
      name: "commits that still need testing",
      added: [
        ["feature", null],
        ["fix typo", null],
      ],
      expected: false,
    },
    { name: "a commit set back to needstesting", added: [["feature", "needstesting"]], expected: false },
    {
      name: "a commit with a recorded ok",
      added: [
        ["feature", null],
        ["again", "ok"],
      ],
      expected: true,
    },
    { name: "a commit with a recorded bad", added: [["feature", "bad"]], expected: true },
    { name: "a [no-qa] commit", added: [["docs [no-qa]", null]], expected: true },
    { name: "a [testfix] commit", added: [["tests [TestFix]", null]], expected: true },
    { name: "a rollback", added: [["revert [rollback=r3]", null]], expected: true },
  ];
  it.each(cases)("$name → $expected", ({ added, expected }) => {
    const { commits, verdicts } = mainline(50, added);
    expect(couldChangeDeployable(commits, verdicts)).toBe(expected);
  });

  it("when it says no, appending those commits leaves the deployable revision where it was", () => {
    // Every stable of up to four revisions, each ok/bad/untestable/needstesting, one
    // of them maybe rolling back r2; then up to two untested commits on top.
    const choices: [string, Verdict | null][] = [
      ["plain", "ok"],
      ["plain", "bad"],
      ["plain", null],
      ["docs [no-qa]", null],
      ["undo [rollback=r2]", null],
    ];
    let checked = 0;
    const grow = (specs: [string, Verdict | null][]): void => {
      for (const extra of [0, 1, 2]) {
        const added: [string, Verdict | null][] = Array.from({ length: extra }, (_, i) => [`later ${i}`, null]);
        const { commits: addedCommits, verdicts: none } = mainline(100, added);
        expect(couldChangeDeployable(addedCommits, none)).toBe(false);
        const before = walk(1, specs).d;
        const after = walk(1, [...specs, ...added]).d;
        expect(after, JSON.stringify({ specs, extra })).toBe(before);
        checked++;
      }
      if (specs.length < 4) for (const c of choices) grow([...specs, c]);
    };
    grow([]);
    expect(checked).toBeGreaterThan(1000);
  });
});
