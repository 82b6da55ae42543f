// QA verdicts by command and by tag, the rollback example, and the audit log.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
});
afterEach(() => sb.cleanup());

interface Status {
  deployable: { sha: string; revno: number } | null;
  pending: { sha: string; revno: number; subject: string; verdict: string }[];
  branches: Record<string, { sha: string; revno: number } | null>;
  mirror: { outcome: string } | null;
}

describe("verdicts", () => {
  it("by command: recorded with who and the note, then production-stable moves", () => {
    const r = sb.prodgate(["qa", "ok", "r1", "--note", "tried on staging"], "quinn");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("production-stable moved to r1");
    const log = sb.json<{ decision: string; user: string; reason: string; detail: string }[]>(["log"]);
    const verdict = log.find((e) => e.decision === "verdict")!;
    expect(verdict.user).toBe("quinn");
    expect(verdict.detail).toBe("tried on staging");
  });

  it("by a pushed qa/ok tag from the qa role", () => {
    work.git(["tag", "qa/ok/first", "HEAD"]);
    const r = work.push(["origin", "qa/ok/first"], "quinn");
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("production-stable moved to r1");
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
  });

  it("a verdict tag from someone without the qa role is refused and records nothing", () => {
    work.git(["tag", "qa/ok/sneaky", "HEAD"]);
    const r = work.push(["origin", "qa/ok/sneaky"], "dev");
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("[role-required]");
    expect(sb.tip("refs/tags/qa/ok/sneaky")).toBeNull();
    expect(sb.json<Status>(["status"]).pending.length).toBe(1);
  });

  it("a verdict tag on a commit that is not on stable's mainline is refused", () => {
    work.commit("r2 only on devel");
    work.push(["origin", "HEAD:devel"], "dev");
    work.git(["tag", "qa/ok/not-stable", "HEAD"]);
    const r = work.push(["origin", "qa/ok/not-stable"], "quinn");
    expect(r.output).toContain("[verdict-target]");
  });

  it("verdict tags never move or disappear", () => {
    work.git(["tag", "qa/bad/r1", "HEAD"]);
    expect(work.push(["origin", "qa/bad/r1"], "quinn").status).toBe(0);
    work.commit("r2");
    work.land();
    work.git(["tag", "-f", "qa/bad/r1", "HEAD"]);
    expect(work.push(["--force", "origin", "qa/bad/r1"], "quinn").output).toContain("[tag-immutable]");
    expect(work.push(["origin", ":refs/tags/qa/bad/r1"], "quinn").output).toContain("[tag-immutable]");
  });

  it("the SPEC's rollback example: D is r42's place until r45 is ok, then the rollback", () => {
    // r1 exists; build r2..r6 as the example's r41..r46.
    const sha: Record<number, string> = { 1: work.sha("HEAD") };
    const subjects: Record<number, string> = {
      2: "r41",
      3: "r42",
      4: "r43 breaks things",
      5: "r44",
      6: "r45",
      7: "r46 revert r43 [rollback=4]",
    };
    for (let n = 2; n <= 7; n++) sha[n] = work.commit(subjects[n]!);
    work.land();
    expect(sb.prodgate(["qa", "ok", "r1", "r1..r3"], "quinn").status).toBe(0); // revno ranges include both ends
    expect(sb.prodgate(["qa", "bad", "r4"], "quinn").status).toBe(0);
    expect(sb.prodgate(["qa", "ok", "r5", "r7"], "quinn").status).toBe(0);
    let st = sb.json<Status>(["status"]);
    expect(st.deployable?.revno).toBe(3);
    expect(sb.tip("production-stable")).toBe(sha[3]);
    expect(st.pending.map((p) => p.revno)).toEqual([6]);

    const explain = sb.json<{ deployable: boolean; stoppedBy: { revno: number } | null }>(["explain", "r5"]);
    expect(explain.deployable).toBe(false);
    expect(explain.stoppedBy?.revno).toBe(4);

    expect(sb.prodgate(["qa", "ok", "r6"], "quinn").status).toBe(0);
    st = sb.json<Status>(["status"]);
    expect(st.deployable?.revno).toBe(7);
    expect(sb.tip("production-stable")).toBe(sha[7]);
  });

  it("[no-qa] landed by the trusted role (ci) is mirrored with no verdict", () => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    const docs = work.commit("Fix a typo in the docs [no-qa]");
    work.push(["origin", "HEAD:devel"], "cid");
    const r = work.push(["origin", "HEAD:stable"], "dev");
    expect(r.output).toContain("production-stable moved to r2");
    expect(sb.tip("production-stable")).toBe(docs);
  });

  it("qa pending lists what awaits a verdict, oldest first", () => {
    work.commit("r2");
    work.commit("r3 [testfix]");
    work.commit("r4");
    work.land("cid");
    const pending = sb.json<{ revno: number }[]>(["qa", "pending"]);
    expect(pending.map((p) => p.revno)).toEqual([1, 2, 4]);
  });
});

describe("bad input to qa", () => {
  it.each([
    [["qa", "great", "r1"], "unknown verdict"],
    [["qa", "ok", "r99"], "does not exist"],
    [["qa", "ok", "nosuchref"], "not a commit"],
    [["qa", "ok", "r3..r1"], "bad range"],
    [["qa", "ok", "--", "-rf"], "may not start"],
    [["qa", "ok", "$(touch /tmp/prodgate-pwned)"], "bad revision"],
    [["qa", "ok", "r1;id"], "bad revision"],
    [["qa", "ok"], "name the revisions"],
    [["qa"], "missing required argument"],
    [["qa", "ok", "r1", "--bogus"], "unknown option"],
  ])("%j → exit 2, %s, nothing recorded", (args, message) => {
    work.commit("r2");
    work.commit("r3");
    work.land();
    const r = sb.prodgate(args, "quinn");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr.split("\n").filter(Boolean).length).toBe(1);
    expect(sb.json<{ decision: string }[]>(["log"]).filter((e) => e.decision === "verdict")).toEqual([]);
  });

  it("a revision on devel but not on stable is refused", () => {
    const only = work.commit("devel only");
    work.push(["origin", "HEAD:devel"], "dev");
    const r = sb.prodgate(["qa", "ok", only], "quinn");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("not a mainline commit of stable");
  });

  it("someone without the qa role cannot record verdicts", () => {
    const r = sb.prodgate(["qa", "ok", "r1"], "dev");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("needs the qa role");
  });
});

describe("the audit log", () => {
  it("holds every decision with pusher, ref, old, new, code; filters work", () => {
    work.push(["origin", "HEAD:production-stable"], "mallory");
    work.commit("r2");
    work.push(["origin", "HEAD:devel"], "dev");
    const all = sb.json<{ decision: string; user: string; ref: string; old: string; new: string; reason: string; code: string }[]>(["log"]);
    const rejected = all.find((e) => e.decision === "rejected")!;
    expect(rejected.user).toBe("mallory");
    expect(rejected.ref).toBe("refs/heads/production-stable");
    expect(rejected.new).toBe(work.sha("HEAD~1"));
    expect(rejected.code).toBe("unapproved");
    expect(sb.json<unknown[]>(["log", "--rejected"]).length).toBe(1);
    expect(sb.json<{ user: string }[]>(["log", "--user", "mallory"]).every((e) => e.user === "mallory")).toBe(true);
    expect(sb.json<{ ref: string }[]>(["log", "--ref", "devel"]).every((e) => e.ref === "refs/heads/devel")).toBe(true);
    expect(sb.json<unknown[]>(["log", "--limit", "2"]).length).toBe(2);
    expect(sb.prodgate(["log", "--limit", "zero"]).status).toBe(2);
  });
});
