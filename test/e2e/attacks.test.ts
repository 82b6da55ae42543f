// Attacks by a developer with push access and no role, each turned into a
// test: what they tried, and what prodgate must do instead. Races are made
// deterministic with gates in earlier (chained) hooks, never with sleeps.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Running, startIn, until } from "../helpers/background";
import { type Clone, MAIN, type RunResult, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
afterEach(() => sb?.cleanup());

interface LogRow {
  ref: string | null;
  old: string | null;
  new: string | null;
  decision: string;
  code: string | null;
  pushId: string | null;
  landed: boolean | null;
}
const log = () => sb.json<LogRow[]>(["log", "--limit", "100000"]);

interface Fix {
  sha: string;
  devel: { sha: string; how: string } | null;
  stable: { sha: string; how: string } | null;
}

const start = (cmd: string, args: string[], cwd: string, env: Record<string, string | undefined>): Running =>
  startIn(sb, cmd, args, cwd, env);

/** An earlier hook of the server (run before prodgate's) with this shell body. */
function chainedHook(name: "pre-receive" | "post-receive", body: string): void {
  const path = join(sb.bare, "hooks", `${name}.prodgate-chained`);
  writeFileSync(path, `#!/bin/sh\ncat >/dev/null\n${body}\n`);
  chmodSync(path, 0o755);
}

describe("the landing table", () => {
  it("does not mark the twin of a push still in post-receive as landed", { timeout: 120_000 }, async () => {
    ({ sb, work } = standardSandbox());
    const r2 = work.commit("r2");
    const other = sb.clone("other");
    other.git(["fetch", "--quiet", work.dir, "devel"]);
    other.git(["checkout", "--quiet", "-B", "devel", "FETCH_HEAD"]);
    // Both pushes pass pre-receive with devel where they found it; the one
    // that lands is then held in post-receive while the other one is over.
    const barrier = join(sb.root, "barrier");
    const gate = join(sb.root, "gate");
    mkdirSync(barrier);
    mkdirSync(gate);
    chainedHook("pre-receive", `: >"${barrier}/$$"\nwhile [ "$(ls "${barrier}" | wc -l)" -lt 2 ]; do sleep 0.01; done`);
    chainedHook("post-receive", `: >"${gate}/reached"\nwhile [ ! -e "${gate}/go" ]; do sleep 0.01; done`);
    const a = start("git", ["push", "origin", "HEAD:devel"], work.dir, { GL_USER: "dev" });
    const b = start("git", ["push", "origin", "HEAD:devel"], other.dir, { GL_USER: "dev" });
    await until(() => existsSync(join(gate, "reached")) && (a.exited || b.exited), "one push to land and the other to fail");
    expect(sb.tip("devel")).toBe(r2);
    // cron's sync while the landed push is still in its post-receive
    expect(sb.prodgate(["sync"]).status).toBe(0);
    writeFileSync(join(gate, "go"), "");
    await Promise.all([a.done, b.done]);
    expect(sb.prodgate(["sync"]).status).toBe(0);
    const rows = log().filter((e) => e.ref === "refs/heads/devel" && e.new === r2 && e.decision === "accepted");
    expect(rows).toHaveLength(2);
    expect(rows.map((e) => e.landed).sort()).toEqual([false, true]);
  });
});

const REAL_GIT = spawnSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).stdout.trim();

/** A `git` first on PATH that holds the first update-ref of production-stable: creates <dir>/held, waits for <dir>/go. */
function holdMirrorUpdate(): string {
  const dir = join(sb.root, "hold-update-ref");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "git"),
    `#!/bin/sh
case " $* " in *" update-ref "*"refs/heads/production-stable "*)
  if [ ! -e "${dir}/held" ]; then : >"${dir}/held"; while [ ! -e "${dir}/go" ]; do sleep 0.01; done; fi ;;
esac
exec "${REAL_GIT}" "$@"
`,
  );
  chmodSync(join(dir, "git"), 0o755);
  return dir;
}

describe("the landing table, against the mirror", () => {
  it("does not mark a push as landed when the mirror made the same move first", { timeout: 120_000 }, async () => {
    ({ sb, work } = standardSandbox());
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    const r2 = work.commit("r2");
    work.land();
    // QA approves r2; its mirror is held just before it moves production-stable.
    const hold = holdMirrorUpdate();
    const ok = start(process.execPath, [MAIN, "--repo", sb.bare, "qa", "ok", "r2"], sb.root, {
      GL_USER: "quinn",
      PATH: `${hold}:${process.env.PATH}`,
    });
    await until(() => existsSync(join(hold, "held")) || ok.exited, "the mirror to reach its update-ref");
    // Meanwhile the developer pushes the approved revision, held after pre-receive.
    const gate = join(sb.root, "gate");
    mkdirSync(gate);
    const update = join(sb.bare, "hooks", "update");
    writeFileSync(update, `#!/bin/sh\n: >"${gate}/reached"\nwhile [ ! -e "${gate}/go" ]; do sleep 0.01; done\n`);
    chmodSync(update, 0o755);
    const push = start("git", ["push", "origin", "HEAD:production-stable"], work.dir, { GL_USER: "dev" });
    await until(() => existsSync(join(gate, "reached")) || push.exited, "the push to pass pre-receive");
    // The mirror moves production-stable first; the push then fails to update it.
    writeFileSync(join(hold, "go"), "");
    expect((await ok.done).status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r2);
    writeFileSync(join(gate, "go"), "");
    expect((await push.done).status).not.toBe(0);
    expect(sb.prodgate(["sync"]).status).toBe(0);
    const row = log().find((e) => e.ref === "refs/heads/production-stable" && e.new === r2 && e.decision === "accepted");
    expect(row).toMatchObject({ landed: false });
  });
});

describe("security fixes", () => {
  it("are not marked back by a commit with the fix's patch-id that the same push reverts", () => {
    ({ sb, work } = standardSandbox());
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
    const fix = work.commit("Fix auth bypass", { "auth.c": "check the password\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
    const promoted = work.push(["origin", "secfix:production-stable"], "sam");
    expect(promoted.status, promoted.output).toBe(0);
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["cherry-pick", fix]);
    work.git(["commit", "--quiet", "--amend", "-m", "Port the auth fix"]);
    work.git(["revert", "--no-edit", "HEAD"]);
    const pushed = work.push(["origin", "HEAD:devel"], "dev");
    expect(pushed.status, pushed.output).toBe(0);
    // devel does not hold the fix's change
    expect(sb.run("git", ["cat-file", "-e", "devel:auth.c"], { cwd: sb.bare }).status).not.toBe(0);
    const f = sb.json<Fix[]>(["security"]).find((x) => x.sha === fix)!;
    expect(f.devel).toBeNull();
  });
});

describe("trusted markers", () => {
  it("a landing robot's merge does not vouch for the markers its log copies from the side it merges", () => {
    ({ sb, work } = standardSandbox());
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    const r1 = sb.tip("production-stable");
    // The developer's side branch: one commit whose subject carries the marker.
    work.git(["checkout", "--quiet", "-b", "feature"]);
    const backdoor = work.commit("Add backdoor [no-qa]", { "backdoor.c": "open sesame\n" });
    expect(work.push(["origin", "feature"], "dev").status).toBe(0);
    // The landing robot merges it with the usual summary of what it merges (merge.log).
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["merge", "--quiet", "--no-ff", "--log", "-m", "Land feature", "feature"]);
    expect(work.git(["log", "-1", "--format=%B"])).toContain("[no-qa]");
    for (const target of ["HEAD:devel", "HEAD:stable"]) {
      const p = work.push(["origin", target], "cid");
      expect(p.status, p.output).toBe(0);
    }
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r1);
    expect(sb.run("git", ["merge-base", "--is-ancestor", backdoor, "production-stable"], { cwd: sb.bare }).status).toBe(1);
  });

  it("nor does a developer's merge when everyone's markers count (prodgate.markers.trust = anyone)", () => {
    ({ sb, work } = standardSandbox());
    sb.git(["config", "prodgate.markers.trust", "anyone"], { cwd: sb.bare });
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    const r1 = sb.tip("production-stable");
    // The side branch: a docs fix with the marker, and a feature without it.
    work.git(["checkout", "--quiet", "-b", "feature"]);
    work.commit("Fix a typo [no-qa]", { "docs.txt": "typo\n" });
    const feature = work.commit("Add a feature", { "feature.c": "new\n" });
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["merge", "--quiet", "--no-ff", "--log", "-m", "Land feature", "feature"]);
    expect(work.git(["log", "-1", "--format=%B"])).toContain("[no-qa]");
    work.land("dev");
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r1);
    expect(sb.run("git", ["merge-base", "--is-ancestor", feature, "production-stable"], { cwd: sb.bare }).status).toBe(1);
    expect(sb.json<{ pending: { revno: number; markerIgnored?: boolean }[] }>(["status"]).pending[0]).toMatchObject({
      revno: 2,
      markerIgnored: true,
    });
  });
});

describe("names that shadow governed refs", () => {
  it("refuses a tag qa, a tag ci and branches inside or above a governed branch's name", () => {
    ({ sb, work } = standardSandbox());
    work.git(["tag", "qa"]);
    work.git(["tag", "ci"]);
    work.git(["tag", "deploy"]);
    for (const spec of [
      "refs/tags/qa",
      "refs/tags/ci",
      "refs/tags/deploy",
      "HEAD:refs/heads/production-devel/x",
      "HEAD:refs/heads/production-stable/x",
    ]) {
      const p = work.push(["origin", spec], "dev");
      expect(p.status, `${spec}: ${p.output}`).not.toBe(0);
      expect(p.output).toContain("shadows-governed");
    }
    sb.git(["config", "prodgate.productionDevelBranch", "release/hotfix"], { cwd: sb.bare });
    const above = work.push(["origin", "HEAD:refs/heads/release"], "dev");
    expect(above.status, above.output).not.toBe(0);
    // So QA's verdict tags, the first promotion and the mirror's first move still work.
    const qa = sb.clone("qa");
    const tagged = qa.push(["origin", "origin/stable:refs/tags/qa/ok/first"], "quinn");
    expect(tagged.status, tagged.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
    // Other names, and the deletion of such a ref, are pushed as usual.
    expect(work.push(["origin", "HEAD:refs/heads/production-devel-x"], "dev").status).toBe(0);
    expect(work.push(["origin", "HEAD:refs/tags/qa-notes"], "dev").status).toBe(0);
  });
});

describe("cost of a push", () => {
  it("the shim asks git ahead for a few verdict tags only, not for each of hundreds a user without the role pushes", () => {
    ({ sb, work } = standardSandbox());
    // A git in git's exec path (found first by the hooks) that records each server-side call.
    const real = sb.git(["--exec-path"]);
    const execPath = join(sb.root, "exec-path");
    const calls = join(sb.root, "calls");
    mkdirSync(execPath);
    for (const name of readdirSync(real)) if (name !== "git") symlinkSync(join(real, name), join(execPath, name));
    writeFileSync(join(execPath, "git"), `#!/bin/sh\necho "$*" >>"${calls}"\nexec "${join(real, "git")}" "$@"\n`);
    chmodSync(join(execPath, "git"), 0o755);
    const tags = Array.from({ length: 200 }, (_, i) => `HEAD:refs/tags/qa/ok/flood-${i}`);
    const p = work.push(["origin", ...tags], "dev", { GIT_EXEC_PATH: execPath });
    expect(p.status).not.toBe(0);
    expect(p.output).toContain("role-required");
    const asked = readFileSync(calls, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("cat-file -t ") || l.startsWith("log -z --first-parent"));
    expect(asked.length).toBeLessThanOrEqual(4);
  });
});

/**
 * Speak receive-pack's protocol directly, as any client may: send exactly
 * these commands (their old values chosen by the client, not the advertised
 * ones) and an empty pack, as `user`.
 */
function rawPush(commands: { old: string; new: string; ref: string }[], user: string): RunResult {
  const pkt = (line: string) => `${(Buffer.byteLength(line) + 4).toString(16).padStart(4, "0")}${line}`;
  const lines = commands.map((c, i) => pkt(`${c.old} ${c.new} ${c.ref}${i === 0 ? "\0report-status" : ""}\n`)).join("");
  const pack = spawnSync("git", ["pack-objects", "--stdout"], { input: "" }).stdout;
  // receive-pack writes its advertisement first; the commands follow it on stdin.
  const r = spawnSync("git", ["receive-pack", sb.bare], {
    input: Buffer.concat([Buffer.from(`${lines}0000`), pack]),
    env: sb.env({ GL_USER: user }),
    encoding: "utf8",
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

describe("the landing table, against a client that lies about old values", () => {
  it("does not settle a push as landed from a later command that only claims the ref was at its new value", () => {
    ({ sb, work } = standardSandbox());
    const r1 = work.sha("HEAD");
    const r2 = work.commit("r2");
    // A later hook of the server refuses this update: accepted by prodgate, never landed.
    const update = join(sb.bare, "hooks", "update");
    writeFileSync(update, "#!/bin/sh\nexit 1\n");
    chmodSync(update, 0o755);
    expect(work.push(["origin", "HEAD:devel"], "dev").status).not.toBe(0);
    writeFileSync(update, "#!/bin/sh\nexit 0\n");
    expect(sb.tip("devel")).toBe(r1);
    // The developer sends a command claiming devel is at r2 (refused: it is no fast-forward).
    rawPush([{ old: r2, new: r1, ref: "refs/heads/devel" }], "dev");
    expect(log().some((e) => e.ref === "refs/heads/devel" && e.old === r2)).toBe(true);
    expect(sb.prodgate(["sync"]).status).toBe(0);
    const row = log().find((e) => e.ref === "refs/heads/devel" && e.new === r2 && e.decision === "accepted");
    expect(row).toMatchObject({ landed: false });
  });
});
