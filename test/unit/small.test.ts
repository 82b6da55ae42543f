// Table-driven tests of the small pure pieces: refs, revisions, config, identity, parsers, messages, fix matching.
import { describe, expect, it } from "vitest";
import { configFromValues, parseConfigOutput } from "../../src/config";
import { UserError } from "../../src/errors";
import { parseCommits, parseMergeTreeConflicts, parsePatchIds } from "../../src/git/parse";
import { overrideReason, parseHookInput } from "../../src/hooks/input";
import { identify } from "../../src/identity";
import { bringsSecurityFixes, cherryPickClaims, cherryPickedFrom, findFixReturns } from "../../src/policy/fixes";
import { formatRejection, printable } from "../../src/policy/message";
import { classifyRef, refGlobMatch } from "../../src/policy/refs";
import { shortSha } from "../../src/policy/types";
import { parseRevSpec } from "../../src/policy/revspec";

const BRANCHES = { devel: "devel", stable: "stable", productionStable: "production-stable", productionDevel: "production-devel" };

describe("classifyRef", () => {
  it.each([
    ["refs/heads/devel", "devel"],
    ["refs/heads/stable", "stable"],
    ["refs/heads/production-stable", "productionStable"],
    ["refs/heads/production-devel", "productionDevel"],
    ["refs/tags/qa/ok/r1", "verdictTag"],
    ["refs/tags/qa/nonsense", "verdictTag"],
    ["refs/tags/ci/pass/7", "ciTag"],
    ["refs/heads/release/2.0", "governed"],
    ["refs/heads/feature", "ungoverned"],
    ["refs/heads/devel2", "ungoverned"],
    ["refs/tags/qa", "ungoverned"],
    ["refs/tags/v1.0", "ungoverned"],
  ])("%s → %s", (ref, kind) => {
    expect(classifyRef(ref, BRANCHES, ["refs/heads/release/*"]).kind).toBe(kind);
  });

  it.each([
    ["refs/heads/release/*", "refs/heads/release/1", true],
    ["refs/heads/release/*", "refs/heads/release/1/x", false],
    ["refs/heads/release/**", "refs/heads/release/1/x", true],
    ["refs/heads/a.b", "refs/heads/aXb", false],
  ])("glob %s on %s → %s", (p, ref, ok) => expect(refGlobMatch(p, ref)).toBe(ok));
});

describe("parseRevSpec", () => {
  it.each([
    ["r42", { kind: "revno", revno: 42 }],
    ["abc1234", { kind: "name", name: "abc1234" }],
    ["stable", { kind: "name", name: "stable" }],
    ["HEAD~", { kind: "name", name: "HEAD~" }],
    ["r1..r3", { kind: "range", from: { kind: "revno", revno: 1 }, to: { kind: "revno", revno: 3 } }],
  ])("%s", (text, spec) => expect(parseRevSpec(text)).toEqual(spec));

  it.each(["--help", "-x", "$(touch /tmp/x)", "a b", "r0", "a..b..c", "..r3", "r1..", "x;rm", "`id`", "", "a\nb"])("refuses %j", (text) => {
    expect(() => parseRevSpec(text)).toThrow(UserError);
  });
});

describe("config", () => {
  const values = (pairs: [string, string][]) => parseConfigOutput(pairs.map(([k, v]) => `${k}\n${v}\0`).join(""));

  it("defaults", () => {
    const { config, errors } = configFromValues(new Map());
    expect(errors).toEqual([]);
    expect(config.branches.productionStable).toBe("production-stable");
    expect(config.requireCi).toBe(true);
    expect(config.identityVars[0]).toBe("GL_USERNAME");
  });

  it("reads roles, multi-valued, and custom branch names", () => {
    const { config, errors } = configFromValues(
      values([
        ["prodgate.roles.qa", "quinn"],
        ["prodgate.roles.qa", "quentin"],
        ["prodgate.stablebranch", "tested"],
        ["prodgate.requireci", "false"],
      ]),
    );
    expect(errors).toEqual([]);
    expect(config.roles.qa).toEqual(["quinn", "quentin"]);
    expect(config.branches.stable).toBe("tested");
    expect(config.requireCi).toBe(false);
  });

  it.each([
    ["prodgate.requireci", "maybe"],
    ["prodgate.stablewriters", "everyone"],
    ["prodgate.identityfallback", "guess"],
    ["prodgate.develbranch", "-x"],
    ["prodgate.robot", "no email"],
    ["prodgate.roles.king", "me"],
    ["prodgate.governed", "heads/x"],
    ["prodgate.identityvars", "NOT-A-VAR"],
  ])("names the bad key %s = %s", (key, value) => {
    const { errors } = configFromValues(values([[key, value]]));
    expect(errors.length).toBe(1);
    expect(errors[0]!.key.toLowerCase()).toContain(key.split(".")[1]!.slice(0, 5));
  });

  it("refuses two branches with one name", () => {
    expect(configFromValues(values([["prodgate.stablebranch", "devel"]])).errors.length).toBe(1);
  });
});

describe("identify", () => {
  const cfg = { identityVars: ["GL_USERNAME", "GL_USER", "GITEA_PUSHER_NAME", "REMOTE_USER"], identityFallback: "os" as const };
  it.each([
    [{ GL_USERNAME: "a", GL_USER: "b" }, "os", "a"],
    [{ GL_USERNAME: "", GL_USER: "b" }, "os", "b"],
    // Set and non-empty, so it is the identity, and a refused one: no falling through to the next.
    [{ GL_USERNAME: "  ", REMOTE_USER: "r" }, "os", null],
    [{ GITEA_PUSHER_NAME: "g" }, "os", "g"],
    [{}, "os", "osuser"],
    [{}, "none", null],
    [{ PRODGATE_USER: "x", GIT_AUTHOR_NAME: "y" }, "none", null],
  ] as const)("%j with fallback %s → %s", (env, fallback, who) => {
    expect(identify(env, { ...cfg, identityFallback: fallback }, () => "osuser")).toBe(who);
  });
});

describe("hook input", () => {
  const a = "a".repeat(40);
  const b = "b".repeat(40);
  it("parses updates and flags malformed lines", () => {
    const input = parseHookInput(`${a} ${b} refs/heads/devel\nnonsense\n${a} ${"c".repeat(64)} refs/heads/x\n`);
    expect(input.updates).toEqual([{ old: a, new: b, ref: "refs/heads/devel" }]);
    expect(input.malformed.length).toBe(2);
  });
  it("gives the same push id to the same input", () => {
    expect(parseHookInput(`${a} ${b} refs/heads/devel\n`).pushId).toBe(parseHookInput(`${a} ${b} refs/heads/devel\n`).pushId);
  });
  it.each([
    [[], null],
    [["prodgate.override=outage"], "outage"],
    [["prodgate.override"], ""],
    [["prodgate.override="], ""],
    [["GL_USER=ada"], null],
  ])("override from %j → %j", (opts, reason) => expect(overrideReason(opts)).toBe(reason));
});

describe("parsers", () => {
  it("parses git log -z output with marks", () => {
    const out = `>${"a".repeat(40)}\x1f${"b".repeat(40)}\x1fSubject line\n\nBody\n\0-${"b".repeat(40)}\x1f\x1froot\n\0`;
    const commits = parseCommits(out);
    expect(commits.map((c) => [c.mark, c.sha[0], c.subject, c.parents.length])).toEqual([
      [">", "a", "Subject line", 1],
      ["-", "b", "root", 0],
    ]);
    expect(commits[0]!.message).toBe("Subject line\n\nBody");
  });
  it("parses patch-id output", () => {
    expect(parsePatchIds("p1 c1\np2 c2\n")).toEqual(
      new Map([
        ["c1", "p1"],
        ["c2", "p2"],
      ]),
    );
  });
  it("parses merge-tree conflicts", () => {
    expect(parseMergeTreeConflicts("abc\nsrc/a.ts\nsrc/a.ts\nREADME\n\nAuto-merging\n")).toEqual({
      tree: "abc",
      paths: ["src/a.ts", "README"],
    });
  });
});

describe("fix matching", () => {
  const fix = "f".repeat(40);
  it("finds cherry-pick -x lines", () => {
    expect(cherryPickedFrom(`Fix\n\n(cherry picked from commit ${fix})\n`)).toEqual([fix]);
  });
  it.each([
    ["ancestry", [{ sha: fix, parents: [], subject: "", message: "" }], new Map(), fix],
    [
      "cherry-pick",
      [{ sha: "1".repeat(40), parents: [], subject: "", message: `(cherry picked from commit ${fix})` }],
      new Map(),
      "1".repeat(40),
    ],
    [
      "patch-id",
      [{ sha: "2".repeat(40), parents: [], subject: "", message: "edited" }],
      new Map([["2".repeat(40), "PID"]]),
      "2".repeat(40),
    ],
  ])("recognises %s", (how, commits, ids, commit) => {
    expect(findFixReturns([{ sha: fix, patchId: "PID" }], commits, ids, new Set([fix]))).toEqual([{ fix, commit, how }]);
  });
  it.each([
    ["its change is not in the branch, and no patch-id matches: not back", new Map<string, string>(), []],
    [
      "its change is not in the branch, but a commit has the fix's patch-id: back by patch-id",
      new Map([["1".repeat(40), "PID"]]),
      ["patch-id"],
    ],
  ])("a cherry-pick trailer is a claim: %s", (_what, ids, hows) => {
    const commits = [{ sha: "1".repeat(40), parents: [], subject: "", message: `(cherry picked from commit ${fix})` }];
    expect(findFixReturns([{ sha: fix, patchId: "PID" }], commits, ids, new Set()).map((r) => r.how)).toEqual(hows);
  });
  it.each([
    ["the fix itself is there: no claim to check", [{ sha: fix, parents: [], subject: "", message: "" }], []],
    [
      "the oldest of two claims",
      [
        { sha: "2".repeat(40), parents: [], subject: "", message: `(cherry picked from commit ${fix})` },
        { sha: "1".repeat(40), parents: [], subject: "", message: `(cherry picked from commit ${fix})` },
      ],
      [{ fix, commit: "1".repeat(40) }],
    ],
    [
      "a claim naming another commit",
      [{ sha: "1".repeat(40), parents: [], subject: "", message: `(cherry picked from commit ${"e".repeat(40)})` }],
      [],
    ],
  ])("cherryPickClaims: %s", (_what, commits, claims) => {
    expect(cherryPickClaims([{ sha: fix }], commits)).toEqual(claims);
  });
  it("finds nothing in unrelated commits", () => {
    expect(
      findFixReturns(
        [{ sha: fix, patchId: "PID" }],
        [{ sha: "3".repeat(40), parents: [], subject: "", message: "x" }],
        new Map([["3".repeat(40), "OTHER"]]),
        new Set([fix]),
      ),
    ).toEqual([]);
  });

  it.each([
    ["a promotion", { decision: "accepted", detail: null }, true],
    ["no row to tell", null, true],
    [
      "an override of a promotion lacking only its CI pass",
      { decision: "override", detail: "overrode no-ci-pass: no CI pass is recorded for 1a2b3c4" },
      true,
    ],
    [
      "an override of unapproved content",
      { decision: "override", detail: "overrode unapproved: 1 new commit(s) not approved by QA" },
      false,
    ],
    [
      "an override of commits off production-devel",
      { decision: "override", detail: "overrode not-on-production-devel: 2 new commit(s)" },
      false,
    ],
    [
      "an override of a rewind",
      { decision: "override", detail: "overrode non-fast-forward: refs/heads/production-stable would lose commits" },
      false,
    ],
    [
      "an override whose reason names no-ci-pass",
      { decision: "override", detail: "overrode unapproved: x; overrode no-ci-pass: y" },
      false,
    ],
  ] as const)("%s brings security fixes: %s", (_what, row, brings) => expect(bringsSecurityFixes(row)).toBe(brings));
});

describe("messages", () => {
  it("strip control characters from client text", () => {
    expect(printable("a\x1b[31mred\x07")).toBe("a?[31mred?");
  });
  it("list at most 10 commits, then a count", () => {
    const commits = Array.from({ length: 10 }, (_, i) => ({
      sha: `${i}`.repeat(40),
      parents: [],
      subject: `c${i}`,
      message: "",
      revno: i + 1,
      verdict: "needstesting",
    }));
    const lines = formatRejection({
      ref: "refs/heads/production-stable",
      old: "",
      new: "",
      accepted: false,
      code: "unapproved",
      reason: "r",
      commits: { commits, total: 25 },
    });
    expect(lines.filter((l) => /^\s{4}r\d+ /.test(l)).length).toBe(10);
    expect(lines.join("\n")).toContain("… and 15 more");
    expect(lines.join("\n")).toContain("what to do:");
  });
});

describe("shortSha", () => {
  it.each([
    ["0123456789abcdef0123456789abcdef01234567", "0123456"],
    ["a".repeat(64), "aaaaaaa"],
    ["dev@example.com-20261127075600-k3j4h5g6f7d8s9a0", "f7d8s9a0"],
  ])("%s → %s", (id, short) => expect(shortSha(id)).toBe(short));
});
