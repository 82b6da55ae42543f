// Crashes and broken surroundings: the mirror and post-receive killed at each
// step, then `sync` converges; a missing, damaged, read-only or locked
// database, a bad config value and a too-old git fail closed on governed refs
// only, with one line naming the problem and the fix.
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Clone, type RunResult, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
afterEach(() => sb?.cleanup());

const dbPath = () => join(sb.bare, "prodgate", "state.db");

interface LogRow {
  ref: string | null;
  new: string | null;
  decision: string;
  code: string | null;
  user: string | null;
}
const log = () => sb.json<LogRow[]>(["log", "--limit", "100000"]);

function mirrorRuns(): { outcome: string; to_sha: string | null }[] {
  const db = new Database(dbPath(), { readonly: true });
  try {
    return db.prepare("SELECT outcome, to_sha FROM mirror_runs ORDER BY id").all() as { outcome: string; to_sha: string | null }[];
  } finally {
    db.close();
  }
}

/** production-stable holds a promoted security fix, so every later mirror is a merge. */
function withSecurityFix(): void {
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
  work.git(["checkout", "--quiet", "-b", "pdev"]);
  const fix = work.commit("security: fix", { "fix.txt": "fixed\n" });
  expect(work.push(["origin", "pdev:production-devel"], "sam").status).toBe(0);
  expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
  const promote = work.push(["origin", "pdev:production-stable"], "sam");
  expect(promote.status, promote.output).toBe(0);
  work.git(["checkout", "--quiet", "devel"]);
}

function expectConverged(): void {
  const status = sb.json<{ deployable: { sha: string } | null }>(["status"]);
  const prod = sb.tip("production-stable")!;
  expect(status.deployable).not.toBeNull();
  expect(sb.git(["merge-base", "--is-ancestor", status.deployable!.sha, prod], { cwd: sb.bare })).toBe("");
  expect(mirrorRuns().filter((r) => r.outcome === "running")).toEqual([]);
  const fsck = sb.fsck();
  expect(fsck.status, fsck.stderr).toBe(0);
}

describe("the mirror killed at each step", () => {
  const STEPS = ["after-merge-tree", "after-commit-tree", "before-update-ref", "after-update-ref", "before-db-write", "after-db-write"];

  it("converges on the next sync, moving production-stable once per target", { timeout: 600_000 }, () => {
    ({ sb, work } = standardSandbox());
    withSecurityFix();
    for (const [i, step] of STEPS.entries()) {
      work.commit(`r${i + 2}: change ${step}`);
      work.land();
      const killed = sb.prodgate(["qa", "ok", `r${i + 2}`], "quinn", { PRODGATE_FAULT: step });
      expect(killed.status, step).not.toBe(0);
      // The verdict was recorded before the mirror started.
      expect(log().filter((e) => e.decision === "verdict" && e.new === work.sha("HEAD"))).toHaveLength(1);

      const sync = sb.prodgate(["sync"]);
      expect(sync.status, `${step}: ${sync.stderr}`).toBe(0);
      expectConverged();
      const prod = sb.tip("production-stable")!;
      expect(sb.git(["merge-base", "--is-ancestor", work.sha("HEAD"), prod], { cwd: sb.bare }), step).toBe("");
      const moves = log().filter((e) => e.decision === "mirror" && (e.code === "moved" || e.code === "merged") && e.new === prod);
      expect(moves, step).toHaveLength(1);
      expect(mirrorRuns().filter((r) => ["moved", "merged"].includes(r.outcome) && r.to_sha === prod)).toHaveLength(1);
      // production-devel follows production-stable even when the mirror died after moving it.
      expect(sb.tip("production-devel"), step).toBe(prod);
    }
  });
});

describe("post-receive killed at each step", () => {
  it("leaves nothing lost: sync records the accepted tag once and mirrors", { timeout: 300_000 }, () => {
    ({ sb, work } = standardSandbox());
    for (const [i, step] of ["before-verdict-recorded", "after-verdict-recorded", "before-mirror"].entries()) {
      const sha = i === 0 ? work.sha("HEAD") : (work.commit(`r${i + 1}`), work.land(), work.sha("HEAD"));
      const tag = `qa/ok/${step}`;
      work.git(["tag", tag, sha]);
      const push = work.push(["origin", `refs/tags/${tag}`], "quinn", { PRODGATE_FAULT: step });
      expect(push.status, push.output).toBe(0);
      expect(sb.tip(`refs/tags/${tag}`)).toBe(sha);

      expect(sb.prodgate(["sync"]).status).toBe(0);
      const verdicts = log().filter((e) => e.decision === "verdict" && e.ref === `refs/tags/${tag}`);
      expect(verdicts, step).toHaveLength(1);
      expect(verdicts[0]!.user).toBe("quinn");
      expect(sb.tip("production-stable"), step).toBe(sha);
      // A second sync records nothing more.
      expect(sb.prodgate(["sync"]).status).toBe(0);
      expect(log().filter((e) => e.decision === "verdict" && e.ref === `refs/tags/${tag}`)).toHaveLength(1);
      expectConverged();
    }
  });

  it("leaves no security fix unrecorded when it dies before recording a promotion's fixes", () => {
    ({ sb, work } = standardSandbox());
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    work.git(["checkout", "--quiet", "-b", "pdev"]);
    const fix = work.commit("security: fix", { "fix.txt": "fixed\n" });
    expect(work.push(["origin", "pdev:production-devel"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
    const promote = work.push(["origin", "pdev:production-stable"], "sam", { PRODGATE_FAULT: "before-fixes-recorded" });
    expect(promote.status, promote.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(fix);
    expect(sb.json<unknown[]>(["security"])).toEqual([]);

    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(sb.prodgate(["sync"]).status).toBe(0);
    const fixes = sb.json<{ sha: string; promotedBy: string }[]>(["security"]);
    expect(fixes).toHaveLength(1);
    expect(fixes[0]).toMatchObject({ sha: fix, promotedBy: "sam" });
    expect(log().filter((e) => e.decision === "fix")).toHaveLength(1);
    expectConverged();
  });

  it("never imports a verdict tag that pre-receive did not accept", () => {
    ({ sb, work } = standardSandbox());
    // Written straight into the repository, as someone with shell access could: no accepted audit row.
    sb.git(["tag", "qa/ok/sneaked-in", "stable"], { cwd: sb.bare });
    // Pushed by someone without the qa role: rejected, so the tag never lands either.
    work.git(["tag", "qa/ok/by-dev", "HEAD"]);
    expect(work.push(["origin", "refs/tags/qa/ok/by-dev"], "dev").status).not.toBe(0);
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(log().filter((e) => e.decision === "verdict")).toEqual([]);
    expect(sb.tip("production-stable")).toBeNull();
  });
});

/** A governed push is rejected with the message, an ungoverned one lands, doctor exits 1 naming the problem. */
function expectFailsClosed(problem: RegExp, fix: RegExp, run: (args: string[]) => RunResult = (a) => work.push(a, "dev")): void {
  work.commit("more work");
  const governed = run(["origin", "HEAD:devel"]);
  expect(governed.status).not.toBe(0);
  const out = governed.stdout + governed.stderr;
  const line = out.split("\n").find((l) => problem.test(l));
  expect(line, out).toBeDefined();
  expect(line).toMatch(fix);
  expect(out).not.toMatch(/at .*\.(c?js|ts):\d+|internal error/);
  const ungoverned = run(["origin", "HEAD:refs/heads/feature-x"]);
  expect(ungoverned.status, ungoverned.stdout + ungoverned.stderr).toBe(0);
}

function expectDoctorFails(problem: RegExp): void {
  const doctor = sb.prodgate(["doctor"]);
  expect(doctor.status, doctor.stdout + doctor.stderr).toBe(1);
  expect(doctor.stdout).toMatch(problem);
}

describe("a broken database fails closed", () => {
  it("missing: refused, never recreated by a push, sync or doctor", () => {
    ({ sb, work } = standardSandbox());
    for (const f of readdirSync(join(sb.bare, "prodgate"))) if (f.startsWith("state.db")) writeFileSync(join(sb.bare, "prodgate", f), "");
    sb.run("sh", ["-c", `rm -f '${dbPath()}'*`]);
    expectFailsClosed(/\[unavailable\].*database is missing/, /run install\.sh/);
    expectDoctorFails(/FAIL +database: .*missing/);
    expect(sb.prodgate(["sync"]).status).toBe(1);
    expect(existsSync(dbPath())).toBe(false);
  });

  it("damaged: refused, and neither install.sh nor sync recreates it", () => {
    ({ sb, work } = standardSandbox());
    const garbage = "this is not a database\n".repeat(400);
    sb.run("sh", ["-c", `rm -f '${dbPath()}-wal' '${dbPath()}-shm'`]);
    writeFileSync(dbPath(), garbage);
    expectFailsClosed(/\[unavailable\].*database .*(damaged|not a database)/, /restore it from a backup|install/);
    expectDoctorFails(/FAIL +database: .*(damaged|not a database)/);
    expect(sb.prodgate(["sync"]).status).toBe(1);
    expect(sb.install().status).not.toBe(0);
    expect(readFileSync(dbPath(), "utf8")).toBe(garbage);
  });

  it("read-only: refused with the permission to fix", () => {
    ({ sb, work } = standardSandbox());
    // root ignores file modes, so the pushes run as an unprivileged user who owns everything.
    const asUser = process.getuid?.() === 0;
    if (asUser) {
      // The test itself (root) keeps committing in the clone the other user owns.
      writeFileSync(join(sb.home, ".gitconfig"), "[safe]\n\tdirectory = *\n");
      sb.run("chown", ["-R", "65534:65534", sb.root]);
      chownSync(sb.root, 65534, 65534);
    }
    const wrap = (cmd: string, args: string[], cwd: string): RunResult =>
      asUser ? sb.run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", cmd, ...args], { cwd }) : sb.run(cmd, args, { cwd });
    chmodSync(dbPath(), 0o444);
    chmodSync(join(sb.bare, "prodgate"), 0o555);
    const push = (args: string[]) => wrap("git", ["push", ...args], work.dir);
    expectFailsClosed(/database .*cannot be written|readonly|read-only/i, /write access|chmod/, push);
    const doctor = wrap(process.execPath, [join(__dirname, "..", "..", "dist", "prodgate.cjs"), "--repo", sb.bare, "doctor"], sb.root);
    expect(doctor.status, doctor.stdout).toBe(1);
    expect(doctor.stdout).toMatch(/FAIL +database writable: .*not writable/);
    chmodSync(join(sb.bare, "prodgate"), 0o755);
  });

  it("locked by another process past the busy timeout: refused after the wait, then fine again", async () => {
    ({ sb, work } = standardSandbox());
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const D = require(${JSON.stringify(require.resolve("better-sqlite3"))});
         const db = new D(${JSON.stringify(dbPath())});
         db.exec("BEGIN EXCLUSIVE"); db.prepare("INSERT INTO settings (key, value) VALUES ('held', 'x')").run();
         process.stdout.write("locked\\n"); setTimeout(() => {}, 120000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((resolve) => holder.stdout!.once("data", () => resolve()));
      expectFailsClosed(/database .*stayed locked by another process/, /try again.*fuser/);
      expectDoctorFails(/FAIL +database writable: .*locked/);
    } finally {
      holder.kill("SIGKILL");
    }
    await new Promise((r) => holder.once("exit", r));
    const again = work.push(["origin", "HEAD:devel"], "dev");
    expect(again.status, again.output).toBe(0);
  });
});

describe("bad surroundings fail closed", () => {
  it("a ref file prodgate may not write (left by another user) is said as such, never taken for a lost race", () => {
    ({ sb, work } = standardSandbox());
    const real = sb.run("sh", ["-c", "command -v git"]).stdout.trim();
    const dir = join(sb.root, "denying-git");
    mkdirSync(dir);
    // git's own words when the reflog of production-stable belongs to someone else.
    writeFileSync(
      join(dir, "git"),
      `#!/bin/sh
case " $* " in
*" update-ref "*refs/heads/production-stable*)
  echo "fatal: update_ref failed for ref 'refs/heads/production-stable': cannot update the ref 'refs/heads/production-stable': unable to append to '${sb.bare}/logs/refs/heads/production-stable': Permission denied" >&2
  exit 128 ;;
esac
exec '${real}' "$@"
`,
      { mode: 0o755 },
    );
    const r = sb.prodgate(["qa", "ok", "r1"], "quinn", { PATH: `${dir}:${process.env.PATH}` });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr.trim()).toBe(
      `prodgate: refs/heads/production-stable cannot be moved: fatal: update_ref failed for ref 'refs/heads/production-stable': cannot update the ref 'refs/heads/production-stable': unable to append to '${sb.bare}/logs/refs/heads/production-stable': Permission denied; files in the repository belong to another user: give them back to the repository's owner (chown) and run prodgate as that user`,
    );
    expect(sb.tip("production-stable")).toBeNull();
    // Once the files are right, sync moves it.
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
  });

  it("a config key with a wrong value", () => {
    ({ sb, work } = standardSandbox());
    sb.git(["config", "prodgate.requireCi", "maybe"], { cwd: sb.bare });
    expectFailsClosed(/\[unavailable\].*prodgate\.requireCi: "maybe" is not true or false/, /git config/);
    expectDoctorFails(/FAIL +config: prodgate\.requireCi/);
  });

  it("a git too old for merge-tree --write-tree", () => {
    ({ sb, work } = standardSandbox());
    // A git exec path where `git` reports 2.30 and has no merge-tree --write-tree; receive-pack runs the hooks with it.
    const real = sb.git(["--exec-path"]);
    const fake = join(sb.root, "old-git");
    mkdirSync(fake);
    for (const f of readdirSync(real)) if (f !== "git") symlinkSync(join(real, f), join(fake, f));
    writeFileSync(
      join(fake, "git"),
      `#!/bin/sh\ncase "$1" in\n--version) echo "git version 2.30.9"; exit 0 ;;\nmerge-tree) echo "error: unknown option write-tree" >&2; exit 129 ;;\nesac\nexec ${join(real, "git")} "$@"\n`,
      { mode: 0o755 },
    );
    const env = { GIT_EXEC_PATH: fake, PATH: `${fake}:${process.env.PATH}` };
    const run = (args: string[]) => work.push(args, "dev", env);
    expectFailsClosed(/\[unavailable\].*git version 2\.30\.9 is too old/, /upgrade git/, run);
    const doctor = sb.prodgate(["doctor"], undefined, env);
    expect(doctor.status).toBe(1);
    expect(doctor.stdout).toMatch(/FAIL +git: git version 2\.30\.9 is too old/);
  });
});
