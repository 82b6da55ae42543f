// production-stable never silently drops a security fix's change: a revision that undoes a
// promoted fix (a revert, or an edit of its lines), approved by QA, is not deployed by the
// mirror nor taken by a push, until the change is back or the security team retires the fix.
import Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
let fix: string;

interface Status {
  mirror: { outcome: string; detail: string | null } | null;
}

const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}\n`).join("");
const BASE = lines(1, 20);
const FIXED = lines(1, 10) + "check()\n" + lines(11, 20);

/** Land the current branch on devel and stable, and return the new stable tip. */
function land(): string {
  work.land();
  return sb.tip("stable")!;
}

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
  work.commit("r2: lib", { "lib.c": BASE });
  land();
  expect(sb.prodgate(["qa", "ok", "r2"], "quinn").stdout).toContain("production-stable moved to r2");
  work.git(["fetch", "--quiet", "origin"]);
  work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
  fix = work.commit("Fix auth bypass", { "lib.c": FIXED });
  expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
  expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
  const promoted = work.push(["origin", "secfix:production-stable"], "sam");
  expect(promoted.output).toContain("recorded 1 security fix");
  // The fix comes back the plain way: devel fast-forwards to it, and stable takes it as r3.
  work.git(["checkout", "--quiet", "devel"]);
  work.git(["merge", "--quiet", "--ff-only", "secfix"]);
  land();
  expect(sb.tip("production-stable")).toBe(fix);
});
afterEach(() => sb.cleanup());

/** r4: an unrelated change; r5: the fix reverted by a developer. Both approved by QA. */
function revertLandedAndApproved(): { r4: string; r5: string; qa: string } {
  work.commit("r4: unrelated", { "other.c": "x\n" });
  const r4 = land();
  work.git(["revert", "--no-edit", fix]);
  const r5 = land();
  const qa = sb.prodgate(["qa", "ok", "r4", "r5"], "quinn");
  return { r4, r5, qa: qa.stdout + qa.stderr };
}

describe("a revision that drops a promoted security fix's change", () => {
  it("is not deployed: the mirror stays at the revision before it, status says why, and a push of it is refused drops-fix", () => {
    const { r4, r5, qa } = revertLandedAndApproved();
    expect(sb.tip("production-stable")).toBe(r4);
    expect(qa).toContain("production-stable moved to r4");
    expect(qa).toContain(`r5 ${r5.slice(0, 7)} drops the change of security fix ${fix.slice(0, 7)} "Fix auth bypass"`);
    const status = sb.prodgate(["status"]);
    expect(status.stdout).toContain(`held: r5 ${r5.slice(0, 7)} drops the change of security fix ${fix.slice(0, 7)}`);

    // The next run holds where it is, and says so as a blocked mirror (sync exits 1).
    const sync = sb.prodgate(["sync"]);
    expect(sync.status).toBe(1);
    expect(sync.stdout).toContain(`blocked: r5 ${r5.slice(0, 7)} drops the change of security fix ${fix.slice(0, 7)}`);
    expect(sync.stdout).toContain("production-stable holds before it");
    expect(sb.tip("production-stable")).toBe(r4);
    const s = sb.json<Status>(["status"]);
    expect(s.mirror).toMatchObject({ outcome: "blocked" });
    expect(s.mirror!.detail).toContain(`security fix ${fix.slice(0, 7)}`);

    // A developer pushing it by hand is refused, naming the fix and what to do.
    const push = work.push(["origin", `${r5}:refs/heads/production-stable`], "dev");
    expect(push.status).not.toBe(0);
    expect(push.output).toContain("[drops-fix]");
    expect(push.output).toContain(`${fix.slice(0, 7)} "Fix auth bypass"`);
    expect(push.output).toContain("prodgate security retire");
    expect(sb.tip("production-stable")).toBe(r4);

    // explain gives the hook's answer.
    const explain = sb.json<{ deployable: boolean; why: string; push: { accepted: boolean; code: string } }>(["explain", "r5"]);
    expect(explain.push).toMatchObject({ accepted: false, code: "drops-fix" });
    expect(explain.deployable).toBe(false);
    expect(explain.why).toContain(`security fix ${fix.slice(0, 7)}`);
  });

  it("moves once the security team retires the fix, which is audited and shown", () => {
    const { r5 } = revertLandedAndApproved();
    expect(sb.prodgate(["security", "retire", fix, "--reason", "x"], "dev").status).toBe(2);
    const r = sb.prodgate(["security", "retire", fix.slice(0, 8), "--reason", "superseded by the new auth layer"], "sam");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("retired by sam");
    expect(r.stdout).toContain("production-stable moved to r5");
    expect(sb.tip("production-stable")).toBe(r5);
    const [f] = sb.json<{ sha: string; retired: { by: string; at: string; reason: string } | null }[]>(["security"]);
    expect(f!.retired).toMatchObject({ by: "sam", reason: "superseded by the new auth layer" });
    expect(sb.prodgate(["security"]).stdout).toContain("retired by sam");
    const log = sb.json<{ decision: string; code: string; user: string; detail: string }[]>(["log", "--limit", "10"]);
    expect(log.find((e) => e.decision === "fix" && e.code === "retired")).toMatchObject({
      user: "sam",
      detail: "superseded by the new auth layer",
    });
    const [event] = sb.json<{ data: Record<string, unknown> }[]>(["events", "--type", "fix.retired"]);
    expect(event!.data).toMatchObject({ fix, reason: "superseded by the new auth layer" });
    // Again: nothing changes.
    const again = sb.prodgate(["security", "retire", fix, "--reason", "again"], "sam");
    expect(again.status).toBe(0);
    expect(again.stdout).toContain("already retired");
  });

  it("an admin's override still moves production-stable onto it, audited", () => {
    const { r5 } = revertLandedAndApproved();
    const push = work.push(
      ["-o", "prodgate.override=incident 7: the old check breaks logins", "origin", `${r5}:refs/heads/production-stable`],
      "ada",
    );
    expect(push.status, push.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(r5);
    const log = sb.json<{ decision: string; code: string; detail: string | null }[]>(["log", "--ref", "production-stable", "--limit", "5"]);
    const row = log.find((e) => e.decision === "override");
    expect(row?.detail).toContain("overrode drops-fix");
  });
});

describe("every other move of production-stable is held to it too", () => {
  it("a security promotion that takes an earlier fix out is refused drops-fix", () => {
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "secfix2", "origin/production-stable"]);
    work.git(["revert", "--no-edit", fix]);
    const fix2 = work.commit("Fix token check", { "token.c": "verify()\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix2], "cid").status).toBe(0);
    const promoted = work.push(["origin", "HEAD:production-stable"], "sam");
    expect(promoted.status).not.toBe(0);
    expect(promoted.output).toContain("[drops-fix]");
    expect(sb.tip("production-stable")).toBe(fix);
  });

  it("after an override dropped a fix, later revisions wait until its change is back or it is retired", () => {
    const { r5 } = revertLandedAndApproved();
    const push = work.push(["-o", "prodgate.override=incident 7", "origin", `${r5}:refs/heads/production-stable`], "ada");
    expect(push.status, push.output).toBe(0);
    work.commit("r6: unrelated", { "more.c": "x\n" });
    const r6 = land();
    const qa = sb.prodgate(["qa", "ok", "r6"], "quinn");
    expect(qa.stdout).toContain(`blocked: r6 ${r6.slice(0, 7)} drops the change of security fix ${fix.slice(0, 7)}`);
    expect(sb.tip("production-stable")).toBe(r5);
    // The change back on stable: the mirror moves.
    work.git(["revert", "--no-edit", "HEAD~1"]);
    const r7 = land();
    expect(sb.prodgate(["qa", "ok", "r7"], "quinn").stdout).toContain("production-stable moved to r7");
    expect(sb.tip("production-stable")).toBe(r7);
  });
});

describe("when production-stable holds the fix by a merge", () => {
  it("a revert of the fix's cherry-pick on stable is not merged in: the mirror holds, status says why", () => {
    // Another fix, picked (not merged) back into devel: stable lacks its commit, so the mirror merges.
    work.git(["checkout", "--quiet", "-B", "secfix2", "origin/production-stable"]);
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["reset", "--quiet", "--hard", "origin/production-stable"]);
    const fix2 = work.commit("Fix token check", { "token.c": lines(1, 10) + "verify()\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix2], "cid").status).toBe(0);
    expect(work.push(["origin", "HEAD:production-stable"], "sam").output).toContain("recorded 1 security fix");
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["cherry-pick", "-x", fix2]);
    land();
    expect(sb.prodgate(["qa", "ok", "r4"], "quinn").stdout).toContain("by a merge");
    const merged = sb.tip("production-stable")!;

    work.git(["revert", "--no-edit", "HEAD"]);
    const r5 = land();
    const qa = sb.prodgate(["qa", "ok", "r5"], "quinn");
    expect(qa.stdout).toContain(`blocked: r5 ${r5.slice(0, 7)} drops the change of security fix ${fix2.slice(0, 7)} "Fix token check"`);
    expect(sb.tip("production-stable")).toBe(merged);
    const status = sb.prodgate(["status"]);
    expect(status.stdout).toContain(`blocked: r5 ${r5.slice(0, 7)} drops the change of security fix ${fix2.slice(0, 7)}`);
    expect(sb.json<Status>(["status"]).mirror).toMatchObject({ outcome: "blocked" });
  });
});

describe("a revision that keeps the fix's change", () => {
  it("an unrelated change to the same file is deployed", () => {
    work.commit("r4: edit the top of lib.c", { "lib.c": "header\n" + FIXED.replace("line 1\n", "line one\n") });
    const r4 = land();
    const qa = sb.prodgate(["qa", "ok", "r4"], "quinn");
    expect(qa.stdout).toContain("production-stable moved to r4");
    expect(sb.tip("production-stable")).toBe(r4);
  });

  it("a recorded fix whose commit the repository lacks (an old database) is skipped, with no error", () => {
    const db = new Database(join(sb.bare, "prodgate", "state.db"));
    db.prepare("INSERT INTO fixes (sha, subject, promoted_by, promoted_at) VALUES (?, 'Lost fix', 'sam', '2020-01-01T00:00:00.000Z')").run(
      "0123456789".repeat(4),
    );
    db.close();
    work.commit("r4: edit the top of lib.c", { "lib.c": FIXED.replace("line 1\n", "line one\n") });
    const r4 = land();
    const qa = sb.prodgate(["qa", "ok", "r4"], "quinn");
    expect(qa.status, qa.stderr).toBe(0);
    expect(qa.stdout).toContain("production-stable moved to r4");
    expect(sb.tip("production-stable")).toBe(r4);
    // The revert is still caught: the lost fix changes nothing about the one that exists.
    work.git(["revert", "--no-edit", fix]);
    land();
    expect(sb.prodgate(["qa", "ok", "r5"], "quinn").stdout).toContain(`drops the change of security fix ${fix.slice(0, 7)}`);
    expect(sb.tip("production-stable")).toBe(r4);
    // What git said of each fix's commit is kept: its paths, or that the repository lacks it.
    const kept = new Database(join(sb.bare, "prodgate", "state.db"), { readonly: true });
    const paths = Object.fromEntries(kept.prepare("SELECT sha, paths FROM fixes").raw().all() as [string, string][]);
    kept.close();
    expect(paths).toEqual({ [fix]: JSON.stringify(["lib.c"]), ["0123456789".repeat(4)]: JSON.stringify("absent") });
  });

  it("asks git for a fix's paths once, and once whether a lost fix's commit exists: later moves ask only what changed since", () => {
    const lost = "0123456789".repeat(4);
    const db0 = new Database(join(sb.bare, "prodgate", "state.db"));
    db0
      .prepare("INSERT INTO fixes (sha, subject, promoted_by, promoted_at) VALUES (?, 'Lost fix', 'sam', '2020-01-01T00:00:00.000Z')")
      .run(lost);
    db0.close();
    const trace = join(sb.root, "trace");
    const move = (label: string, file: string) => {
      work.commit(`${label}: unrelated`, { [file]: `${label}\n` });
      land();
      work.git(["tag", `qa/ok/${label}`, "HEAD"]);
      expect(work.push(["origin", `qa/ok/${label}`], "quinn", { PRODGATE_TRACE: trace }).status).toBe(0);
      expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
      const last = readFileSync(trace, "utf8").trim().split("\n").at(-1)!;
      return Number(/^post-receive \d+ms git=(\d+)/.exec(last)![1]);
    };
    const first = move("r4", "a.c");
    const second = move("r5", "b.c");
    // The first move asked for the fixes' own paths (in its one diff-tree) and whether the lost fix's
    // commit exists (one cat-file more); the second asks neither. Neither checked the fix's content,
    // whose file neither revision touched.
    expect(second).toBe(first - 1);
    const db = new Database(join(sb.bare, "prodgate", "state.db"), { readonly: true });
    expect(db.prepare("SELECT paths, held_at FROM fixes WHERE sha = ?").get(fix)).toEqual({
      paths: JSON.stringify(["lib.c"]),
      held_at: work.sha("HEAD"),
    });
    expect(db.prepare("SELECT paths FROM fixes WHERE sha = ?").pluck().get(lost)).toBe(JSON.stringify("absent"));
    db.close();
  });

  it("a later revision that leaves lib.c alone is deployed without a check of its content", () => {
    work.commit("r4: unrelated", { "other.c": "x\n" });
    const r4 = land();
    expect(sb.prodgate(["qa", "ok", "r4"], "quinn").stdout).toContain("production-stable moved to r4");
    expect(sb.tip("production-stable")).toBe(r4);
  });
});
