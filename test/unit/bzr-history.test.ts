// The pure translation of Bazaar facts into the engine's questions.
import { describe, expect, it } from "vitest";
import { serveArgs } from "../../src/bzr/commands";
import { BzrHistory, type BzrSnapshot, parseSnapshot } from "../../src/bzr/history";
import { ABSENT, parseHookInput, refUpdateOf } from "../../src/bzr/hook";
import { BzrRepo } from "../../src/bzr/repo";

// a1 ← a2 ← a3 ← m4 (merges b1 ← b2, which branched from a2) ← a5   (stable's mainline: a1 a2 a3 m4 a5)
// a2 ← f1 (a fix on production-stable)
const snapshot: BzrSnapshot = {
  root: "/srv/bzr/project",
  branches: { devel: "a5", stable: "m4", "production-stable": "f1", "production-devel": null },
  revisions: [
    ["a1", [], "first"],
    ["a2", ["a1"], "second\n\nwith a body\n"],
    ["a3", ["a2"], "third"],
    ["b1", ["a2"], "side one"],
    ["b2", ["b1", "ghost-rev"], "side two"],
    ["m4", ["a3", "b2"], "merge side [no-qa]"],
    ["a5", ["m4"], "fifth"],
    ["f1", ["a2"], "security fix"],
  ],
};
const history = new BzrHistory(snapshot);

describe("BzrHistory", () => {
  it.each([
    ["a1", 1],
    ["a3", 3],
    ["b1", 3],
    ["b2", 4],
    ["m4", 4],
    ["a5", 5],
    ["f1", 3],
    ["unknown", 0],
  ])("revno(%s) = %i (the left-hand chain's length)", (id, revno) => {
    expect(history.revno(id)).toBe(revno);
  });

  it.each([
    ["a1", "a5", true],
    ["b1", "m4", true],
    ["m4", "m4", true],
    ["f1", "a5", false],
    ["a5", "a1", false],
    ["ghost-rev", "b2", false],
  ])("isAncestor(%s, %s) = %s", (a, b, expected) => {
    expect(history.isAncestor(a, b)).toBe(expected);
  });

  it.each([
    { tip: "a5", exclude: ["f1"], segment: ["a3", "m4", "a5"], boundary: "a2" },
    { tip: "a5", exclude: [], segment: ["a1", "a2", "a3", "m4", "a5"], boundary: null },
    { tip: "m4", exclude: ["m4"], segment: [], boundary: "m4" },
    { tip: "a5", exclude: ["b2"], segment: ["a3", "m4", "a5"], boundary: "a2" },
  ])("mainline($tip, ^$exclude) is $segment after $boundary", ({ tip, exclude, segment, boundary }) => {
    const result = history.mainline(tip, exclude);
    expect(result.segment.map((c) => c.sha)).toEqual(segment);
    expect(result.segment.map((c) => c.revno)).toEqual(segment.map((id) => history.revno(id)));
    expect(result.boundary?.sha ?? null).toBe(boundary);
  });

  it.each([
    { include: ["a5"], exclude: ["f1"], ids: ["a5", "m4", "b2", "b1", "a3"] },
    { include: ["f1"], exclude: ["m4"], ids: ["f1"] },
    { include: ["a2"], exclude: ["a5"], ids: [] },
  ])("between($include, ^$exclude) lists children before parents", ({ include, exclude, ids }) => {
    expect(history.between(include, exclude)).toEqual(ids);
  });

  it.each([
    ["a3", "a5", true],
    ["b1", "a5", false],
    ["a5", "m4", false],
  ])("onMainline(%s, %s) = %s", (id, tip, expected) => {
    expect(history.onMainline(id, tip)).toBe(expected);
  });

  it("reads subjects and messages like git's", () => {
    expect(history.commit("a2")).toEqual({ sha: "a2", parents: ["a1"], subject: "second", message: "second\n\nwith a body" });
    expect(history.commit("b2")?.parents).toEqual(["b1"]);
  });
});

describe("BzrRepo names", () => {
  const repo = new BzrRepo("/srv/bzr/project", () => ({ history, facts: snapshot, rebuilt: false }));
  it.each([
    ["a3", "a3"],
    ["stable", "m4"],
    ["refs/heads/devel", "a5"],
    ["stable~1", "a3"],
    ["a5~4", "a1"],
    ["a5~9", null],
    ["production-devel", null],
    ["nothing", null],
  ])("resolveCommit(%s) = %s", (name, id) => {
    expect(repo.resolveCommit(name)).toBe(id);
  });

  it("shows branches as refs/heads/<path> and leaves empty ones out", () => {
    const tips = repo.refTips(["refs/heads/stable", "refs/heads/production-devel", "refs/tags/x"]);
    expect([...tips]).toEqual([["refs/heads/stable", "m4"]]);
  });
});

describe("tip changes from the plugin", () => {
  it.each([
    [
      { branch: "stable", old: "a3", new: "m4" },
      { ref: "refs/heads/stable", old: "a3", new: "m4" },
    ],
    [
      { branch: "production-stable", old: null, new: "a1" },
      { ref: "refs/heads/production-stable", old: ABSENT, new: "a1" },
    ],
    [
      { branch: "team/devel", old: "a1", new: null },
      { ref: "refs/heads/team/devel", old: "a1", new: ABSENT },
    ],
  ])("%j is judged as %j", (change, update) => {
    expect(refUpdateOf(change)).toEqual(update);
  });

  it.each([
    ["not json", "cannot read"],
    [JSON.stringify({ snapshot, update: { branch: "../etc", old: null, new: "a1" } }), "no usable tip change"],
    [JSON.stringify({ snapshot, update: { branch: "devel", old: 3, new: "a1" } }), "no usable tip change"],
    [JSON.stringify({ snapshot: { root: "/x" }, update: { branch: "devel", old: null, new: "a1" } }), "facts"],
  ])("refuses a malformed document (%s)", (text, message) => {
    expect(() => parseHookInput(text)).toThrow(message);
  });

  it("reads a well-formed document", () => {
    const input = parseHookInput(JSON.stringify({ snapshot, update: { branch: "devel", old: "a3", new: "a5" } }));
    expect(input.update).toEqual({ branch: "devel", old: "a3", new: "a5", revno: null });
    expect(parseSnapshot(input.snapshot).branches.devel).toBe("a5");
  });
});

describe("serve-bzr arguments", () => {
  it.each([
    // Loopback unless told otherwise: bzr:// has neither authentication nor encryption.
    [{}, ["prodgate-serve", "/r", "--listen=127.0.0.1"]],
    [{ port: "4155" }, ["prodgate-serve", "/r", "--listen=127.0.0.1", "--port=4155"]],
    [{ listen: "0.0.0.0", port: "4155" }, ["prodgate-serve", "/r", "--listen=0.0.0.0", "--port=4155"]],
    [{ inet: true }, ["prodgate-serve", "/r", "--inet"]],
  ])("%j → %j", (opts, args) => {
    expect(serveArgs("/r", opts)).toEqual(args);
  });

  it.each([[{ port: "0" }], [{ port: "http" }], [{ listen: "--evil" }], [{ inet: true, port: "1" }]])("refuses %j", (opts) => {
    expect(() => serveArgs("/r", opts)).toThrow();
  });
});
