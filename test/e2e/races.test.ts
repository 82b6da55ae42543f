// Races and crashes, made deterministic: a `git` wrapper first on the PATH of
// one process holds it at a chosen git invocation until the test lets it go,
// and fault points kill a hook at a named step. Nothing here waits for time
// to pass: every wait is for a file or a ref the other side writes.
import Database from "better-sqlite3";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Running, startIn, until } from "../helpers/background";
import { type Clone, MAIN, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
afterEach(() => sb?.cleanup());

interface LogRow {
  at: string;
  ref: string | null;
  old: string | null;
  new: string | null;
  decision: string;
  code: string | null;
  reason: string | null;
  user: string | null;
  pushId: string | null;
  landed: boolean | null;
}
const log = () => sb.json<LogRow[]>(["log", "--limit", "100000"]);

const REAL_GIT = spawnSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).stdout.trim();

/**
 * A directory holding a `git` that runs the real one, except that it stops at
 * the invocation `mode` names: it creates <dir>/held and waits for <dir>/go.
 * - "after-mainline": after the first list of stable's mainline (log --first-parent --boundary) has run;
 * - "before-update-ref": before the first update-ref of production-stable;
 * - "lie-is-ancestor": answers every `merge-base --is-ancestor`, and every "is X on Y's first-parent
 *   chain" log, with yes (a hint gone wrong).
 */
function gitWrapper(mode: "after-mainline" | "before-update-ref" | "lie-is-ancestor"): string {
  const dir = join(sb.root, `wrapper-${mode}`);
  mkdirSync(dir, { recursive: true });
  const wait = `: >"${dir}/held"; while [ ! -e "${dir}/go" ]; do sleep 0.01; done`;
  const body =
    mode === "lie-is-ancestor"
      ? `case " $* " in *" merge-base --is-ancestor "*) exit 0 ;; esac
# "Is X on the first-parent chain of Y?" (log --first-parent Y --not X^@) answered yes: X appended as its last entry.
case " $* " in *" --first-parent "*"^@ --"*)
  x= f=
  for a; do case $a in *^@) x=\${a%^@} ;; --format=*) f=$a ;; esac; done
  "${REAL_GIT}" "$@"; printf '\\0'; "${REAL_GIT}" log -z --no-walk "$f" "$x"; exit 0 ;;
esac`
      : mode === "after-mainline"
        ? `case " $* " in *" --first-parent "*"--boundary "*)
  if [ ! -e "${dir}/held" ]; then "${REAL_GIT}" "$@"; st=$?; ${wait}; exit $st; fi ;;
esac`
        : `case " $* " in *" update-ref "*"refs/heads/production-stable "*)
  if [ ! -e "${dir}/held" ]; then ${wait}; fi ;;
esac`;
  writeFileSync(join(dir, "git"), `#!/bin/sh\necho "$*" >>"${dir}/calls"\n${body}\nexec "${REAL_GIT}" "$@"\n`);
  chmodSync(join(dir, "git"), 0o755);
  return dir;
}

const start = (cmd: string, args: string[], cwd: string, env: Record<string, string | undefined>): Running =>
  startIn(sb, cmd, args, cwd, env);

const startProdgate = (args: string[], user: string, env: Record<string, string | undefined> = {}) =>
  start(process.execPath, [MAIN, "--repo", sb.bare, ...args], sb.root, { GL_USER: user, ...env });

const withPath = (dir: string) => ({ PATH: `${dir}:${process.env.PATH}` });

/** Is a bad or needstesting verdict, or a freeze, in the audit log? (read straight from the database) */
function changeRecorded(): boolean {
  const db = new Database(join(sb.bare, "prodgate", "state.db"), { readonly: true, timeout: 5000 });
  try {
    return db.prepare("SELECT 1 FROM audit WHERE decision = 'freeze' OR (decision = 'verdict' AND code != 'ok')").get() !== undefined;
  } finally {
    db.close();
  }
}

/** r1 approved and in production; r2 on devel and stable, without a verdict. */
function r1InProductionR2OnStable(): string {
  ({ sb, work } = standardSandbox());
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
  expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
  const r2 = work.commit("r2: change");
  work.land();
  return r2;
}

describe("one snapshot per decision", () => {
  it("a sync never deploys a stable revision that landed while it was reading", { timeout: 120_000 }, async () => {
    ({ sb, work } = standardSandbox());
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    const r1 = work.sha("HEAD");
    const r2 = work.commit("r2: untested");
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);

    const wrapper = gitWrapper("after-mainline");
    const sync = startProdgate(["sync"], "ada", withPath(wrapper));
    await until(() => existsSync(join(wrapper, "held")) || sync.exited, "the sync to list stable's mainline");
    expect(sync.exited, readFileSync(join(wrapper, "calls"), "utf8")).toBe(false);
    // stable moves to r2 while the sync holds its snapshot (its post-receive queues for the mirror's lock).
    const push = start("git", ["push", "origin", "HEAD:stable"], work.dir, { GL_USER: "dev" });
    await until(() => sb.tip("stable") === r2, "the stable push to land");
    writeFileSync(join(wrapper, "go"), "");
    const [s, p] = await Promise.all([sync.done, push.done]);
    expect(s.status, s.stderr).toBe(0);
    expect(p.status, p.stderr).toBe(0);

    expect(sb.tip("production-stable")).toBe(r1);
    expect(log().filter((e) => e.decision === "mirror" && e.new === r2)).toEqual([]);
    const explain = sb.json<{ deployable: boolean }>(["explain", "r2"]);
    expect(explain.deployable).toBe(false);
  });
});

describe("verdicts and freezes are serialised with the mirror", () => {
  for (const [name, args, user] of [
    ["qa bad", ["qa", "bad", "r2"], "quinn"],
    ["qa needstesting", ["qa", "needstesting", "r2"], "quinn"],
    ["freeze", ["freeze", "--reason", "incident 42"], "ada"],
  ] as const) {
    it(`${name} does not return while a mirror is between its decision and its update-ref`, { timeout: 120_000 }, async () => {
      const r2 = r1InProductionR2OnStable();
      const wrapper = gitWrapper("before-update-ref");
      const ok = startProdgate(["qa", "ok", "r2"], "quinn", withPath(wrapper));
      await until(() => existsSync(join(wrapper, "held")) || ok.exited, "the mirror to reach its update-ref");
      expect(ok.exited).toBe(false);

      const note = join(sb.root, "lock-waits");
      const change = startProdgate([...args], user, { PRODGATE_LOCK_WAIT_NOTE: note });
      await until(
        () => change.exited || existsSync(note) || changeRecorded(),
        `${name} to finish, be recorded, or queue for the mirror's lock`,
      );
      // Had it returned (or been recorded) now, the mirror, already past its decision, would ignore it.
      const returnedBeforeTheMove = change.exited;
      const recordedBeforeTheMove = changeRecorded();
      writeFileSync(join(wrapper, "go"), "");
      const [o, c] = await Promise.all([ok.done, change.done]);
      expect(o.status, o.stderr).toBe(0);
      expect(c.status, c.stderr).toBe(0);
      expect(returnedBeforeTheMove).toBe(false);
      expect(recordedBeforeTheMove).toBe(false);
      expect(sb.tip("production-stable")).toBe(r2);

      // The log's order is the order of effect: the move, then what came after it.
      const rows = log().reverse();
      const move = rows.findIndex((e) => e.decision === "mirror" && e.code === "moved" && e.new === r2);
      const after = rows.findIndex((e) => (e.decision === "verdict" && e.code !== "ok") || e.decision === "freeze");
      expect(move).toBeGreaterThanOrEqual(0);
      expect(after).toBeGreaterThan(move);
    });
  }

  it("a verdict that returned is honoured by the next mirror", () => {
    const r2 = r1InProductionR2OnStable();
    expect(sb.prodgate(["qa", "bad", "r2"], "quinn").status).toBe(0);
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(sb.tip("production-stable")).not.toBe(r2);
  });
});

describe("the audit log", () => {
  it("never goes back in time, even when the clock is stepped back", () => {
    ({ sb, work } = standardSandbox());
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    const clock = join(sb.root, "clock-back.cjs");
    writeFileSync(
      clock,
      `const Real = Date;
class Stepped extends Real {
  constructor(...a) { if (a.length === 0) super(Real.now() - 3600e3); else super(...a); }
  static now() { return Real.now() - 3600e3; }
}
globalThis.Date = Stepped;
`,
    );
    expect(sb.prodgate(["freeze", "--reason", "clock test"], "ada", { NODE_OPTIONS: `--require ${clock}` }).status).toBe(0);
    const times = log()
      .reverse()
      .map((e) => e.at);
    expect(times.length).toBeGreaterThan(2);
    expect([...times].sort()).toEqual(times);
  });

  it("audits the mirror's fast-forward of production-devel", () => {
    ({ sb, work } = standardSandbox());
    const r1 = work.sha("HEAD");
    work.git(["push", "origin", "HEAD:production-devel"], { GL_USER: "sam" });
    expect(sb.tip("production-devel")).toBe(r1);
    const r2 = work.commit("r2");
    work.land();
    expect(sb.prodgate(["qa", "ok", "r1", "r2"], "quinn").status).toBe(0);
    expect(sb.tip("production-devel")).toBe(r2);
    const follow = log().filter((e) => e.ref === "refs/heads/production-devel" && e.decision === "mirror");
    expect(follow).toHaveLength(1);
    expect(follow[0]).toMatchObject({ old: r1, new: r2, code: "follow" });
  });
});

/** production-stable holds a promoted security fix that devel and stable lack; returns the fix. */
function withSecurityFix(): string {
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
  work.git(["checkout", "--quiet", "-b", "pdev"]);
  const fix = work.commit("security: fix", { "fix.txt": "fixed\n" });
  expect(work.push(["origin", "pdev:production-devel"], "sam").status).toBe(0);
  expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
  const promote = work.push(["origin", "pdev:production-stable"], "sam");
  expect(promote.status, promote.output).toBe(0);
  work.git(["checkout", "--quiet", "devel"]);
  return fix;
}

describe("marks only name objects that exist", () => {
  it("a devel push killed after pre-receive, while a fix is pending, leaves sync and later pushes working", { timeout: 120_000 }, () => {
    ({ sb, work } = standardSandbox());
    const fix = withSecurityFix();
    work.commit("r2");
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    const lost = work.commit("r3: never lands");
    const killed = work.push(["origin", "HEAD:devel"], "dev", { PRODGATE_FAULT: "after-pre-receive" });
    expect(killed.status).not.toBe(0);
    expect(sb.run("git", ["cat-file", "-e", lost], { cwd: sb.bare }).status).not.toBe(0);

    const sync = sb.prodgate(["sync"]);
    expect(sync.status, sync.stderr).toBe(0);
    expect(log().find((e) => e.new === lost)).toMatchObject({ decision: "accepted", landed: false });
    work.git(["reset", "--quiet", "--hard", "HEAD~1"]);
    work.commit("r3: lands");
    const again = work.push(["origin", "HEAD:devel"], "dev");
    expect(again.status, again.output).toBe(0);
    expect(again.output).not.toContain("recording it failed");
    work.git(["cherry-pick", "-x", fix]);
    const back = work.push(["origin", "HEAD:devel"], "dev");
    expect(back.status, back.output).toBe(0);
    expect(back.output).not.toContain("recording it failed");
    const fixes = sb.json<{ sha: string; devel: { sha: string } | null }[]>(["security"]);
    expect(fixes).toHaveLength(1);
    expect(fixes[0]!.devel).not.toBeNull();
  });
});

describe("crash recovery writes only moves it can prove", () => {
  it("does not claim a move that a push made after the mirror died", () => {
    const r2 = r1InProductionR2OnStable();
    expect(sb.prodgate(["qa", "ok", "r2"], "quinn", { PRODGATE_FAULT: "before-update-ref" }).status).not.toBe(0);
    expect(sb.tip("production-stable")).not.toBe(r2);
    const push = work.push(["origin", "HEAD:production-stable"], "dev");
    expect(push.status, push.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(r2);
    expect(sb.prodgate(["sync"]).status).toBe(0);
    const rows = log();
    expect(rows.filter((e) => e.decision === "mirror" && e.new === r2 && e.code !== "up-to-date")).toEqual([]);
    const pushed = rows.filter((e) => e.decision === "accepted" && e.ref === "refs/heads/production-stable" && e.new === r2);
    expect(pushed.map((e) => e.landed)).toEqual([true]);
  });

  it("records a recovered merge as merged, once", () => {
    ({ sb, work } = standardSandbox());
    withSecurityFix();
    work.commit("r2");
    work.land();
    expect(sb.prodgate(["qa", "ok", "r2"], "quinn", { PRODGATE_FAULT: "after-update-ref" }).status).not.toBe(0);
    const prod = sb.tip("production-stable")!;
    expect(sb.prodgate(["sync"]).status).toBe(0);
    const moves = log().filter(
      (e) => e.decision === "mirror" && e.new === prod && e.ref === "refs/heads/production-stable" && e.code !== "up-to-date",
    );
    expect(moves.map((e) => e.code)).toEqual(["merged"]);
    expect(moves[0]!.reason).toContain("recovered");
  });
});

describe("the audit log says what landed", () => {
  function denyInUpdateHook(ref: string): void {
    const hook = join(sb.bare, "hooks", "update");
    writeFileSync(hook, `#!/bin/sh\nif [ "$1" = "${ref}" ]; then echo "update hook: ${ref} is closed" >&2; exit 1; fi\nexit 0\n`);
    chmodSync(hook, 0o755);
  }

  it("an update that a later hook refused is marked as not landed, the rest of the push as landed", () => {
    ({ sb, work } = standardSandbox());
    const r2 = work.commit("r2");
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    const r3 = work.commit("r3");
    denyInUpdateHook("refs/heads/stable");
    const push = work.push(["origin", "HEAD:devel", `${r2}:refs/heads/stable`], "dev");
    expect(push.output).toContain("stable is closed");
    expect(sb.tip("devel")).toBe(r3);
    const rows = log().filter((e) => e.decision === "accepted" && (e.new === r3 || e.new === r2));
    expect(rows.find((e) => e.ref === "refs/heads/devel" && e.new === r3)?.landed).toBe(true);
    expect(rows.find((e) => e.ref === "refs/heads/stable")?.landed).toBe(false);
    const human = sb.prodgate(["log"]).stdout;
    expect(human).toMatch(/^(?:just now|\d+[mhd] ago)\s+dev\s+[a-z-]+\s+stable\s+\S+\s+.*\(did not land\)$/m);
  });

  it("a push whose only update a later hook refused is marked as not landed", () => {
    ({ sb, work } = standardSandbox());
    const r2 = work.commit("r2");
    denyInUpdateHook("refs/heads/devel");
    expect(work.push(["origin", "HEAD:devel"], "dev").status).not.toBe(0);
    const row = log().find((e) => e.ref === "refs/heads/devel" && e.new === r2);
    expect(row).toMatchObject({ decision: "accepted", landed: false });
  });

  it("a push still in flight is left unsettled by sync, and settled once it lands", { timeout: 120_000 }, async () => {
    ({ sb, work } = standardSandbox());
    const r2 = work.commit("r2");
    const gate = join(sb.root, "gate");
    mkdirSync(gate);
    const hook = join(sb.bare, "hooks", "update");
    writeFileSync(hook, `#!/bin/sh\n: >"${gate}/reached"\nwhile [ ! -e "${gate}/go" ]; do sleep 0.01; done\n`);
    chmodSync(hook, 0o755);
    const push = start("git", ["push", "origin", "HEAD:devel"], work.dir, { GL_USER: "dev" });
    await until(() => existsSync(join(gate, "reached")) || push.exited, "the push to pass pre-receive");
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(log().find((e) => e.new === r2)).toMatchObject({ decision: "accepted", landed: null });
    writeFileSync(join(gate, "go"), "");
    expect((await push.done).status).toBe(0);
    expect(log().find((e) => e.new === r2)).toMatchObject({ decision: "accepted", landed: true });
  });

  it("two identical pushes at the same moment get their own push ids, and only one lands", { timeout: 120_000 }, async () => {
    ({ sb, work } = standardSandbox());
    const r2 = work.commit("r2");
    const other = sb.clone("other");
    other.git(["fetch", "--quiet", work.dir, "devel"]);
    other.git(["checkout", "--quiet", "-B", "devel", "FETCH_HEAD"]);
    // Both pushes wait in an earlier pre-receive hook until both are there.
    const barrier = join(sb.root, "barrier");
    mkdirSync(barrier);
    const chained = join(sb.bare, "hooks", "pre-receive.prodgate-chained");
    writeFileSync(
      chained,
      `#!/bin/sh\ncat >/dev/null\n: >"${barrier}/$$"\nwhile [ "$(ls "${barrier}" | wc -l)" -lt 2 ]; do sleep 0.01; done\n`,
    );
    chmodSync(chained, 0o755);
    const a = start("git", ["push", "origin", "HEAD:devel"], work.dir, { GL_USER: "dev" });
    const b = start("git", ["push", "origin", "HEAD:devel"], other.dir, { GL_USER: "dev" });
    const results = await Promise.all([a.done, b.done]);
    expect(results.map((r) => r.status).sort()).toEqual([0, 1]);
    expect(sb.tip("devel")).toBe(r2);
    const rows = log().filter((e) => e.ref === "refs/heads/devel" && e.new === r2 && e.decision === "accepted");
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((e) => e.pushId)).size).toBe(2);
    expect(rows.map((e) => e.landed).sort()).toEqual([false, true]);
  });
});

describe("the post-receive shim's prefetch", () => {
  it("asks stable's mainline by the tips it read, exactly as the engine asks it", () => {
    ({ sb, work } = standardSandbox());
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    work.commit("r2");
    work.land();
    const trace = join(sb.root, "trace");
    work.git(["tag", "qa/ok/first", "HEAD~1"]);
    const push = work.push(["origin", "refs/tags/qa/ok/first"], "quinn", { PRODGATE_TRACE: trace });
    expect(push.status, push.output).toBe(0);
    expect(push.output).toContain("already contains the deployable revision");
    // Every git question the engine had was answered by the shim (the tips, then the mainline by sha).
    expect(readFileSync(trace, "utf8")).toMatch(/^post-receive \d+ms git=0$/m);
  });
});

describe("the mirror checks its move with git just before it", () => {
  it("refuses to fast-forward over a security fix even when its own ancestry answer says it may", () => {
    ({ sb, work } = standardSandbox());
    const fix = withSecurityFix();
    // r2 holds the fix's change (not its commit), so only the check of ancestry just before the move stops it.
    work.commit("r2", { "fix.txt": "fixed\n" });
    work.land();
    const prod = sb.tip("production-stable")!;
    const wrapper = gitWrapper("lie-is-ancestor");
    const ok = sb.prodgate(["qa", "ok", "r2"], "quinn", withPath(wrapper));
    expect(ok.stdout + ok.stderr).toContain("blocked");
    expect(ok.stdout + ok.stderr).toContain("does not contain production-stable's tip");
    expect(sb.tip("production-stable")).toBe(prod);
    expect(sb.git(["merge-base", "--is-ancestor", fix, "production-stable"], { cwd: sb.bare })).toBe("");
  });
});

describe("crash recovery after production-stable moved on", () => {
  it("still records the interrupted mirror's move, proved by production-stable's reflog", () => {
    const r2 = r1InProductionR2OnStable();
    expect(sb.prodgate(["qa", "ok", "r2"], "quinn", { PRODGATE_FAULT: "after-update-ref" }).status).not.toBe(0);
    expect(sb.tip("production-stable")).toBe(r2);
    // A revision that needs no verdict, pushed to production-stable by hand before any mirror runs again.
    const r3 = work.commit("r3: docs [no-qa]");
    work.land("cid");
    const push = work.push(["origin", "HEAD:production-stable"], "dev");
    expect(push.status, push.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(r3);
    expect(sb.prodgate(["sync"]).status).toBe(0);
    const moves = log().filter((e) => e.decision === "mirror" && e.new === r2 && e.code !== "up-to-date");
    expect(moves.map((e) => e.code)).toEqual(["moved"]);
    expect(moves[0]!.reason).toContain("recovered");
    expect(existsSync(join(sb.bare, "logs", "refs", "heads", "production-stable"))).toBe(true);
  });
});

describe("a verdict by ticket", () => {
  it("never approves a revision of the ticket that landed while the command was reading", { timeout: 120_000 }, async () => {
    ({ sb, work } = standardSandbox());
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    const r2 = work.commit("[bug=9] the fix QA tried");
    work.land();
    const r3 = work.commit("[bug=9] a late addition nobody tried");
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);

    const wrapper = gitWrapper("after-mainline");
    const ok = startProdgate(["qa", "ok", "--ticket", "9"], "quinn", withPath(wrapper));
    await until(() => existsSync(join(wrapper, "held")) || ok.exited, "the command to list stable's mainline");
    expect(ok.exited, readFileSync(join(wrapper, "calls"), "utf8")).toBe(false);
    // r3 lands on stable while the command holds its snapshot (its post-receive queues for the mirror's lock).
    const push = start("git", ["push", "origin", "HEAD:stable"], work.dir, { GL_USER: "dev" });
    await until(() => sb.tip("stable") === r3, "the stable push to land");
    writeFileSync(join(wrapper, "go"), "");
    const [o, p] = await Promise.all([ok.done, push.done]);
    expect(o.status, o.stderr).toBe(0);
    expect(p.status, p.stderr).toBe(0);

    expect(o.stdout).toContain("ok recorded on 1 revision(s)");
    expect(sb.tip("production-stable")).toBe(r2);
    const pending = sb.json<{ pending: { sha: string }[] }>(["status"]).pending;
    expect(pending.map((x) => x.sha)).toEqual([r3]);
  });
});
