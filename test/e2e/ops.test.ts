// Operations: deployments, cowboys (hot patches applied by hand) and the rollout check automation trusts.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, MAIN, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

interface CowboyJson {
  id: number;
  commit?: string;
  patchId?: string;
  reason: string;
  by: string;
  targets: {
    target: string;
    live: boolean;
    readyToRetire: boolean;
    retiredAt: string | null;
    retiredBy: { sha: string; how: string; commit: string } | null;
  }[];
}
interface CheckJson {
  safe: boolean;
  rev: string;
  targets: { target: string; safe: boolean; reasons: { code: string; message: string; cowboy?: number }[] }[];
}

const OPS = "otto";

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  sb.grant("ops", OPS);
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
  for (const t of ["app3.prod", "app4.prod"]) expect(sb.prodgate(["deploy", "record", t, "production-stable"], OPS).status).toBe(0);
});
afterEach(() => sb.cleanup());

/** A hot fix made on a branch of its own (ungoverned), as operators would have it; returns its sha. */
function hotfix(files: Record<string, string> = { "crash.c": "do not crash\n" }, subject = "Fix the crash"): string {
  work.git(["fetch", "--quiet", "origin"]);
  work.git(["checkout", "--quiet", "-B", "hotfix", "origin/production-stable"]);
  const sha = work.commit(subject, files);
  expect(work.push(["origin", "hotfix"], "dev").status).toBe(0);
  work.git(["checkout", "--quiet", "devel"]);
  work.git(["reset", "--quiet", "--hard", "origin/devel"]);
  return sha;
}

function addCowboy(fix: string, targets = ["app3.prod", "app4.prod"]): number {
  const r = sb.prodgate(["cowboy", "add", ...targets, "--commit", fix, "--reason", "app crashes at midnight", "--json"], OPS);
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { id: number }).id;
}

/** Land the current devel HEAD on devel and stable, approve it, and let the mirror take it to production-stable. */
function landAndApprove(): void {
  work.land();
  const r = sb.prodgate(["qa", "ok", "production-stable..stable"], "quinn");
  expect(r.status, r.stderr + r.stdout).toBe(0);
  expect(sb.tip("production-stable")).toBe(sb.tip("stable"));
}

function check(args: string[]): { status: number; json: CheckJson } {
  const r = sb.prodgate(["deploy", "check", ...args, "--json"]);
  expect([0, 1], r.stderr).toContain(r.status);
  return { status: r.status, json: JSON.parse(r.stdout) as CheckJson };
}

const cowboy = (id: number) => sb.json<CowboyJson[]>(["cowboy", "list"]).find((c) => c.id === id)!;

describe("a cowboy blocks rollouts until a deployment holds its fix", () => {
  it("fails the check on both servers, passes once the fix lands the regular way, retires on the server deployed to only (ancestry)", () => {
    const fix = hotfix();
    const id = addCowboy(fix);
    const before = sb.prodgate(["deploy", "check", "app3.prod", "app4.prod"]);
    expect(before.status).toBe(1);
    expect(before.stdout).toMatch(/app3\.prod: UNSAFE \[cowboy\].*cowboy #1/);
    expect(before.stdout).toMatch(/app4\.prod: UNSAFE \[cowboy\].*cowboy #1/);
    const j = check(["app3.prod", "app4.prod"]).json;
    expect(j.safe).toBe(false);
    expect(j.targets.map((t) => t.reasons.map((r) => [r.code, r.cowboy]))).toEqual([[["cowboy", id]], [["cowboy", id]]]);

    const older = sb.tip("production-stable")!;
    work.git(["merge", "--quiet", "--no-edit", "hotfix"]);
    landAndApprove();
    expect(check(["app3.prod", "app4.prod"])).toMatchObject({ status: 0, json: { safe: true } });
    const status = sb.json<{ target: string; cowboys: { id: number; readyToRetire: boolean }[] }[]>(["deploy", "status"]);
    expect(status.map((t) => [t.target, t.cowboys])).toEqual([
      ["app3.prod", [expect.objectContaining({ id, readyToRetire: true })]],
      ["app4.prod", [expect.objectContaining({ id, readyToRetire: true })]],
    ]);
    expect(sb.prodgate(["deploy", "status"]).stdout).toContain("ready to retire on next rollout");
    expect(cowboy(id).targets.map((t) => t.readyToRetire)).toEqual([true, true]);
    expect(sb.prodgate(["cowboy", "list"]).stdout).toContain("app4.prod: live, ready to retire on next rollout");

    // A rollout of an older revision, which lacks the fix, is still refused.
    const old = check(["app4.prod", older]);
    expect(old.status).toBe(1);
    expect(old.json.targets[0]!.reasons.map((r) => r.code)).toEqual(["cowboy"]);

    const rec = sb.prodgate(["deploy", "record", "app3.prod", "production-stable"], OPS);
    expect(rec.stdout).toContain(`cowboy #${id} retired on app3.prod`);
    const c = cowboy(id);
    expect(c.targets).toEqual([
      expect.objectContaining({ target: "app3.prod", live: false, retiredBy: expect.objectContaining({ how: "ancestry", commit: fix }) }),
      expect.objectContaining({ target: "app4.prod", live: true, retiredBy: null }),
    ]);
    expect(sb.json<CowboyJson[]>(["cowboy", "list", "--live"])).toHaveLength(1);
    // Retired on app3: even the older revision is now safe there; app4 still runs the hot patch.
    expect(check(["app3.prod", older]).status).toBe(0);
    expect(check(["app4.prod", older]).status).toBe(1);
    const log = sb.json<{ decision: string; code: string }[]>(["log"]);
    expect(log.filter((e) => e.decision === "cowboy").map((e) => e.code)).toEqual(["retired", "added"]);
  });

  it("retires by a cherry-pick -x whose change is there", () => {
    const fix = hotfix();
    const id = addCowboy(fix);
    work.git(["cherry-pick", "-x", fix]);
    const pick = work.sha("HEAD");
    landAndApprove();
    sb.prodgate(["deploy", "record", "app3.prod", "production-stable"], OPS);
    expect(cowboy(id).targets[0]).toMatchObject({ live: false, retiredBy: { how: "cherry-pick", commit: pick } });
    expect(cowboy(id).targets[1]).toMatchObject({ live: true });
  });

  it("retires by an identical patch (patch-id)", () => {
    const fix = hotfix();
    const id = addCowboy(fix);
    work.git(["cherry-pick", fix]);
    work.git(["commit", "--quiet", "--amend", "-m", "Port the crash fix"]);
    const pick = work.sha("HEAD");
    landAndApprove();
    sb.prodgate(["deploy", "record", "app3.prod", "production-stable"], OPS);
    expect(cowboy(id).targets[0]).toMatchObject({ live: false, retiredBy: { how: "patch-id", commit: pick } });
    expect(cowboy(id).targets[1]).toMatchObject({ live: true });
  });

  it("a cowboy given as a patch file retires by patch-id", () => {
    const fix = hotfix();
    const patch = join(sb.root, "crash.patch");
    writeFileSync(patch, work.git(["format-patch", "-1", "--stdout", fix]));
    const r = sb.prodgate(["cowboy", "add", "app3.prod", "--patch", patch, "--reason", "hand-applied"], OPS);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^cowboy #1 recorded on app3\.prod: patch [0-9a-f]{7}$/m);
    const byCommit = sb.prodgate(["cowboy", "add", "app4.prod", "--commit", "hotfix", "--reason", "hand-applied"], OPS);
    expect(byCommit.stdout).toContain(`cowboy #2 recorded on app4.prod: commit ${fix.slice(0, 7)} Fix the crash`);
    expect(check(["app3.prod"]).status).toBe(1);
    work.git(["cherry-pick", fix]);
    work.git(["commit", "--quiet", "--amend", "-m", "The crash fix, properly"]);
    landAndApprove();
    expect(check(["app3.prod"]).status).toBe(0);
    sb.prodgate(["deploy", "record", "app3.prod", "production-stable"], OPS);
    const c = sb.json<CowboyJson[]>(["cowboy", "list"])[0]!;
    expect(c.patchId).toMatch(/^[0-9a-f]{40}$/);
    expect(c.targets[0]).toMatchObject({ live: false, retiredBy: { how: "patch-id" } });
  });
});

describe("what an attacker cannot make the check say", () => {
  it("a forged cherry-pick trailer without the change retires nothing and the check still fails", () => {
    const fix = hotfix();
    const id = addCowboy(fix);
    work.commit(`Harmless cleanup\n\n(cherry picked from commit ${fix})`, { "notes.txt": "nothing to see\n" });
    landAndApprove();
    const c = check(["app3.prod"]);
    expect(c.status).toBe(1);
    expect(c.json.targets[0]!.reasons[0]).toMatchObject({ code: "cowboy", cowboy: id });
    sb.prodgate(["deploy", "record", "app3.prod", "production-stable"], OPS);
    expect(cowboy(id).targets[0]).toMatchObject({ live: true });
  });

  it("the fix merged and then reverted is not held: the check fails and nothing retires", () => {
    const fix = hotfix();
    const id = addCowboy(fix);
    work.git(["merge", "--quiet", "--no-edit", "hotfix"]);
    work.git(["revert", "--no-edit", fix]);
    landAndApprove();
    const r = sb.prodgate(["deploy", "check", "app3.prod"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`cowboy #${id}`);
    expect(r.stdout).toContain("(ancestry) but not its change (reverted or changed since)");
    sb.prodgate(["deploy", "record", "app3.prod", "production-stable"], OPS);
    expect(cowboy(id).targets[0]).toMatchObject({ live: true });
  });

  it("a deploy tag from someone without the ops role is refused [role-required] and records nothing", () => {
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["tag", "deploy/app3.prod/monday", "origin/production-stable"]);
    const r = work.push(["origin", "deploy/app3.prod/monday"], "dev");
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("[role-required]");
    expect(r.output).toContain("ops role");
    expect(sb.json<unknown[]>(["deploy", "log", "app3.prod"])).toHaveLength(1);
  });

  it("a deploy tag by ops records the deployment and retires cowboys; tags never move or go", () => {
    const fix = hotfix();
    const id = addCowboy(fix);
    work.git(["merge", "--quiet", "--no-edit", "hotfix"]);
    landAndApprove();
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["tag", "deploy/app4.prod/rollout-7", "origin/production-stable"]);
    const r = work.push(["origin", "deploy/app4.prod/rollout-7"], OPS);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("recorded: app4.prod runs");
    expect(r.output).toContain(`retired cowboy(s) #${id} (ancestry)`);
    const log = sb.json<{ target: string; sha: string; user: string; source: string }[]>(["deploy", "log", "app4.prod"]);
    expect(log[0]).toMatchObject({
      target: "app4.prod",
      sha: sb.tip("production-stable"),
      user: OPS,
      source: "tag refs/tags/deploy/app4.prod/rollout-7",
    });
    expect(cowboy(id).targets[1]).toMatchObject({ target: "app4.prod", live: false });
    expect(sb.json<{ decision: string }[]>(["log"]).some((e) => e.decision === "deploy")).toBe(true);
    expect(work.push(["origin", ":refs/tags/deploy/app4.prod/rollout-7"], OPS).output).toContain("[tag-immutable]");
    work.git(["tag", "-f", "deploy/app4.prod/rollout-7", "origin/production-stable~1"]);
    expect(work.push(["origin", "--force", "deploy/app4.prod/rollout-7"], OPS).output).toContain("[tag-immutable]");
  });

  it("a deploy tag with no label, or naming a target that is not configured, is refused", () => {
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["tag", "deploy/app3.prod", "origin/production-stable"]);
    expect(work.push(["origin", "deploy/app3.prod"], OPS).output).toContain("[bad-tag-name]");
    sb.git(["config", "--add", "prodgate.targets", "app3.prod"], { cwd: sb.bare });
    sb.git(["config", "--add", "prodgate.targets", "app4.prod"], { cwd: sb.bare });
    work.git(["tag", "deploy/app9.prod/x", "origin/production-stable"]);
    const r = work.push(["origin", "deploy/app9.prod/x"], OPS);
    expect(r.output).toContain("[unknown-target]");
    expect(r.output).toContain("app3.prod, app4.prod");
  });

  it("a deployment of a commit not on production-stable is recorded, flagged, and fails the check until a clean record", () => {
    work.commit("an experiment");
    expect(work.push(["origin", "HEAD:refs/heads/experiment"], "dev").status).toBe(0);
    work.git(["tag", "deploy/app3.prod/oops", "HEAD"]);
    const r = work.push(["origin", "deploy/app3.prod/oops"], OPS);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("NOT on production-stable");
    const c = check(["app3.prod"]);
    expect(c.status).toBe(1);
    expect(c.json.targets[0]!.reasons.map((x) => x.code)).toEqual(["off-production-record"]);
    expect(sb.json<{ onProduction: boolean }[]>(["deploy", "status", "app3.prod"])[0]!.onProduction).toBe(false);
    expect(check(["app4.prod"]).status).toBe(0);
    expect(sb.prodgate(["deploy", "record", "app3.prod", "production-stable"], OPS).status).toBe(0);
    expect(check(["app3.prod"]).status).toBe(0);
  });

  it("a reader that closes the output does not turn an unsafe check into exit 0", () => {
    addCowboy(hotfix(), ["app3.prod"]);
    // stdout is a pipe whose reading end is closed before prodgate starts: every write fails with EPIPE.
    const closed = (args: string[]) =>
      sb.run("python3", [
        "-c",
        "import os,subprocess,sys; r,w=os.pipe(); os.close(r); sys.exit(subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.DEVNULL).returncode)",
        process.execPath,
        MAIN,
        "--repo",
        sb.bare,
        ...args,
      ]).status;
    expect(closed(["deploy", "check", "app3.prod"])).toBe(1);
    expect(closed(["deploy", "check", "app3.prod", "--json"])).toBe(1);
    expect(closed(["deploy", "check", "app4.prod"])).toBe(0);
    // Other commands still end quietly.
    expect(closed(["log"])).toBe(0);
  });

  it("a revision that is not on production-stable, and a freeze, fail the check", () => {
    const stray = work.commit("not approved");
    expect(work.push(["origin", "HEAD:refs/heads/stray"], "dev").status).toBe(0);
    expect(check(["app3.prod", stray]).json.targets[0]!.reasons.map((r) => r.code)).toEqual(["not-on-production"]);
    expect(sb.prodgate(["freeze", "--reason", "incident"], "ada").status).toBe(0);
    expect(check(["app3.prod"]).json.targets[0]!.reasons.map((r) => r.code)).toEqual(["frozen"]);
    expect(sb.prodgate(["deploy", "check", "app3.prod", "--ignore-freeze"], OPS).status).toBe(0);
    expect(sb.prodgate(["deploy", "check", "app3.prod", "--ignore-freeze"], "dev").status).toBe(2);
  });
});

describe("bad input changes nothing", () => {
  it("gets one line and exit 2", () => {
    const fix = hotfix();
    const patch = join(sb.root, "not.patch");
    writeFileSync(patch, "just some words\n");
    const series = join(sb.root, "series.patch");
    work.git(["checkout", "--quiet", "hotfix"]);
    work.commit("second hot patch", { "other.c": "x\n" });
    writeFileSync(series, work.git(["format-patch", "-2", "--stdout"]));
    work.git(["checkout", "--quiet", "devel"]);
    const auditBefore = sb.json<unknown[]>(["log", "--limit", "1000"]).length;
    const cases: [string[], string | undefined, RegExp][] = [
      [["deploy", "record", "app3.prod", "no-such-rev"], OPS, /not a commit/],
      [["deploy", "record", "app3.prod", "production-stable"], "dev", /needs the ops role/],
      [["deploy", "record", "production-stable"], OPS, /name the targets/],
      [["deploy", "record", "bad/target", "production-stable"], OPS, /not a target name/],
      [["cowboy", "add", "app3.prod", "--commit", fix, "--patch", patch, "--reason", "x"], OPS, /not both/],
      [["cowboy", "add", "app3.prod", "--patch", patch, "--reason", "x"], OPS, /is not a patch/],
      [["cowboy", "add", "app3.prod", "--patch", series, "--reason", "x"], OPS, /holds 2 commits' changes/],
      [["cowboy", "add", "app3.prod", "--patch", join(sb.root, "absent.patch"), "--reason", "x"], OPS, /cannot read the patch file/],
      [["cowboy", "add", "app3.prod", "--commit", "nope", "--reason", "x"], OPS, /not a commit/],
      [["cowboy", "add", "app3.prod", "--commit", fix], OPS, /say why/],
      [["cowboy", "add", "app3.prod", "--commit", fix, "--reason", "x"], "dev", /needs the ops or security role/],
      [["cowboy", "remove", "7", "--reason", "x"], OPS, /no cowboy #7/],
      [["deploy", "check", "app3.prod", "no-such-rev"], undefined, /"no-such-rev" is neither a known target nor a commit/],
      [["cowboy", "add", "app3.prod", "--commit", "HEAD^{tree}", "--reason", "x"], OPS, /not a commit/],
    ];
    for (const [args, user, message] of cases) {
      const r = sb.prodgate(args, user);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    sb.git(["config", "--add", "prodgate.targets", "app3.prod"], { cwd: sb.bare });
    const unknown = sb.prodgate(["deploy", "record", "app5.prod", "production-stable"], OPS);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("the targets are: app3.prod");
    expect(sb.prodgate(["deploy", "check", "app5.prod"]).status).toBe(2);
    expect(sb.json<unknown[]>(["cowboy", "list"])).toHaveLength(0);
    expect(sb.json<unknown[]>(["deploy", "log"])).toHaveLength(2);
    expect(sb.json<unknown[]>(["log", "--limit", "1000"])).toHaveLength(auditBefore);
  });

  it("a cowboy named by a commit with no change of its own (a merge) is refused: nothing could show it retired", () => {
    const fix = hotfix();
    work.git(["checkout", "--quiet", "-b", "side"]);
    work.commit("side work");
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["merge", "--quiet", "--no-ff", "--no-edit", "side"]);
    expect(work.push(["origin", "HEAD:refs/heads/merged"], "dev").status).toBe(0);
    const merge = work.sha("HEAD");
    const r = sb.prodgate(["cowboy", "add", "app3.prod", "--commit", merge, "--reason", "x"], OPS);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("makes no change of its own");
    expect(sb.prodgate(["cowboy", "add", "app3.prod", "--commit", fix, "--reason", "x"], OPS).status).toBe(0);
  });

  it("a target nobody recorded anything on passes, with a note on stderr", () => {
    const r = sb.prodgate(["deploy", "check", "app3.prd"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("nothing was ever recorded on app3.prd");
    expect(sb.prodgate(["deploy", "check", "app3.prod"]).stderr).toBe("");
  });

  it("concurrent records for the same target keep both, in order", async () => {
    const run = (rev: string) =>
      new Promise<number>((resolve) => {
        const p = spawn(process.execPath, [MAIN, "--repo", sb.bare, "deploy", "record", "app3.prod", rev], {
          env: sb.env({ GL_USER: OPS }),
        });
        p.on("exit", (code) => resolve(code ?? -1));
      });
    const statuses = await Promise.all([run("production-stable"), run("stable"), run("devel")]);
    expect(statuses).toEqual([0, 0, 0]);
    const log = sb.json<{ id: number; target: string }[]>(["deploy", "log", "app3.prod"]);
    expect(log).toHaveLength(4);
    expect(log.map((d) => d.id)).toEqual([...log.map((d) => d.id)].sort((a, b) => b - a));
    const audit = sb.json<{ decision: string; ref: string }[]>(["log", "--ref", "deploy/app3.prod"]);
    expect(audit.filter((e) => e.decision === "deploy")).toHaveLength(4);
  });
});

describe("crashes", () => {
  it("a deploy tag whose post-receive was killed is recorded by the next sync, once", () => {
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["tag", "deploy/app3.prod/after-crash", "origin/production-stable"]);
    work.push(["origin", "deploy/app3.prod/after-crash"], OPS, { PRODGATE_FAULT: "before-deploy-recorded" });
    expect(sb.tip("refs/tags/deploy/app3.prod/after-crash")).not.toBeNull();
    expect(sb.json<unknown[]>(["deploy", "log", "app3.prod"])).toHaveLength(1);
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(sb.prodgate(["sync"]).status).toBe(0);
    const log = sb.json<{ source: string; user: string }[]>(["deploy", "log", "app3.prod"]);
    expect(log).toHaveLength(2);
    expect(log[0]).toMatchObject({ source: "tag refs/tags/deploy/app3.prod/after-crash", user: OPS });
  });
});

describe("names mean the branches", () => {
  it("a tag named production-stable, pushed by anyone, does not change what deploy record and deploy check take", () => {
    const fix = hotfix();
    const id = addCowboy(fix, ["app3.prod"]);
    // The attacker's tag points at the fix itself: recorded by name, it would retire the cowboy.
    work.git(["tag", "production-stable", fix]);
    expect(work.push(["origin", "refs/tags/production-stable"], "dev").status).toBe(0);
    const rec = sb.prodgate(["deploy", "record", "app3.prod", "production-stable", "--json"], OPS);
    expect(JSON.parse(rec.stdout).sha).toBe(sb.tip("refs/heads/production-stable"));
    expect(cowboy(id).targets[0]).toMatchObject({ live: true });
    expect(sb.prodgate(["deploy", "check", "app3.prod", "production-stable"]).status).toBe(1);
  });

  it("a tag named stable does not change which revision qa ok stable judges", () => {
    work.commit("r2 feature");
    work.land();
    work.git(["tag", "stable", "HEAD~1"]);
    expect(work.push(["origin", "refs/tags/stable"], "dev").status).toBe(0);
    expect(sb.prodgate(["qa", "ok", "stable"], "quinn").status).toBe(0);
    expect(sb.tip("refs/heads/production-stable")).toBe(sb.tip("refs/heads/stable"));
  });
});

describe("deploy status", () => {
  it("says what the next rollout of production-stable brings, oldest first: stable revisions with verdicts, security fixes", () => {
    const r2 = work.commit("r2: faster search");
    const r3 = work.commit("r3: new checkout");
    landAndApprove();
    // A security fix promoted straight to production-stable.
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
    const fix = work.commit("Fix auth bypass", { "auth.c": "check\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
    expect(work.push(["origin", "HEAD:production-stable"], "sam").status).toBe(0);
    const [t] = sb.json<
      {
        target: string;
        stableRevno: number | null;
        by: string;
        onProduction: boolean;
        behind: { revisions: { sha: string; revno: number; verdict: string }[]; fixes: { sha: string }[] };
      }[]
    >(["deploy", "status", "app3.prod"]);
    expect(t).toMatchObject({ target: "app3.prod", stableRevno: 1, by: OPS, onProduction: true });
    expect(t!.behind.revisions.map((r) => [r.sha, r.revno, r.verdict])).toEqual([
      [r2, 2, "ok"],
      [r3, 3, "ok"],
    ]);
    expect(t!.behind.fixes.map((f) => f.sha)).toEqual([fix]);
    const text = sb.prodgate(["deploy", "status", "app3.prod"]).stdout;
    expect(text).toContain("brings 2 revision(s), 1 security fix(es)");
    expect(text).toMatch(/r2 \w{7} r2: faster search \(ok\)/);
    sb.prodgate(["deploy", "record", "app3.prod", "production-stable"], OPS);
    const after = sb.json<{ stableRevno: number | null; behind: { revisions: unknown[]; fixes: unknown[] } }[]>([
      "deploy",
      "status",
      "app3.prod",
    ]);
    expect(after[0]).toMatchObject({ stableRevno: null, behind: { revisions: [], fixes: [] } });
  });
});

describe("everywhere people look", () => {
  it("status, explain, the report and the log show deployments and cowboys; unsafe targets in red on the report", () => {
    const fix = hotfix();
    const id = addCowboy(fix, ["app4.prod"]);
    const st = sb.json<{ deployments: { target: string; safe: boolean; cowboys: { id: number }[]; reasons: { code: string }[] }[] }>([
      "status",
    ]);
    expect(st.deployments.map((d) => [d.target, d.safe, d.cowboys.map((c) => c.id), d.reasons.map((r) => r.code)])).toEqual([
      ["app3.prod", true, [], []],
      ["app4.prod", false, [id], ["cowboy"]],
    ]);
    const text = sb.prodgate(["status"]).stdout;
    expect(text).toContain("deployments:");
    expect(text).toMatch(/app4\.prod .*UNSAFE: cowboy/);
    expect(text).toContain(`cowboy #${id}`);

    const explained = sb.json<{ deployedOn: { target: string }[] }>(["explain", "production-stable"]);
    expect(explained.deployedOn.map((d) => d.target)).toEqual(["app3.prod", "app4.prod"]);
    expect(sb.prodgate(["explain", "production-stable"]).stdout).toContain("deployed on: app3.prod");
    expect(sb.json<{ deployedOn: unknown[] }>(["explain", fix]).deployedOn).toEqual([]);

    const html = sb.prodgate(["report"]).stdout;
    expect(html).toContain('<h2 id="dpl-h">Deployed (2)</h2>');
    expect(html).toMatch(/<tr data-target="app4\.prod" class="unsafe">.*app crashes at midnight/);
    expect(html).toMatch(/<tr data-target="app3\.prod"><td[^>]*><b>app3\.prod<\/b>.*safe to roll out/);

    const log = sb.json<{ decision: string; code: string; ref: string | null }[]>(["log"]);
    expect(log.filter((e) => e.decision === "deploy").map((e) => e.ref)).toEqual(["deploy/app4.prod", "deploy/app3.prod"]);
    expect(log.find((e) => e.decision === "cowboy")).toMatchObject({ code: "added" });
    expect(sb.prodgate(["cowboy", "remove", String(id), "--reason", "reimaged"], OPS).status).toBe(0);
    expect(sb.json<{ decision: string; code: string }[]>(["log"])[0]).toMatchObject({ decision: "cowboy", code: "removed" });
    expect(sb.json<{ deployments: { safe: boolean }[] }>(["status"]).deployments.every((d) => d.safe)).toBe(true);
  });
});
