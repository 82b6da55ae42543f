// A ref or reflog file prodgate may not write is said in one line, whatever
// language git and the C library speak to whoever runs prodgate.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, MAIN, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
});
afterEach(() => sb.cleanup());

/** production-stable's tip, read as the repository's owner (git refuses root there); null when it does not exist. */
function prodTip(): string | null {
  const r = sb.run("runuser", [
    "-u",
    "nobody",
    "--",
    "git",
    "-C",
    sb.bare,
    "rev-parse",
    "--verify",
    "--quiet",
    "refs/heads/production-stable",
  ]);
  return r.status === 0 ? r.stdout.trim() : null;
}

/** prodgate as the user nobody, the repository's owner. */
function asOwner(args: string[], user: string, env: Record<string, string> = {}) {
  return sb.run("runuser", ["-u", "nobody", "--", process.execPath, MAIN, "--repo", sb.bare, ...args], { env: { GL_USER: user, ...env } });
}

// Only root can give the repository to another user and leave a file of its own there.
describe.runIf(process.getuid?.() === 0)("a reflog another user left", () => {
  it("is said in one line when git speaks German, not retried as a lost race", () => {
    chmodSync(sb.root, 0o755);
    expect(sb.run("chown", ["-R", "nobody", sb.bare]).status).toBe(0);
    // root's reflog of production-stable, which the owner may not append to.
    mkdirSync(join(sb.bare, "logs", "refs", "heads"), { recursive: true });
    writeFileSync(join(sb.bare, "logs", "refs", "heads", "production-stable"), "");
    const r = asOwner(["qa", "ok", "r1"], "quinn", { LANGUAGE: "de", LC_ALL: "C.UTF-8" });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toContain("refs/heads/production-stable cannot be moved:");
    expect(r.stderr).toContain("give them back to the repository's owner (chown)");
    expect(r.stderr).not.toContain("kept changing");
    expect(prodTip()).toBeNull();
    expect(sb.run("chown", ["-R", "nobody", sb.bare]).status).toBe(0);
    const s = asOwner(["sync"], "quinn");
    expect(s.status, s.stderr).toBe(0);
    expect(prodTip(), s.stdout + s.stderr).toBe(work.sha("HEAD"));
  });
});

describe.runIf(process.getuid?.() === 0)("production-devel's reflog another user left", () => {
  it("is said in one line, after production-stable's move is recorded; sync then has nothing left over", () => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    expect(work.push(["origin", "devel:production-devel"], "sam").status).toBe(0);
    work.commit("r2");
    work.land();
    const r2 = work.sha("HEAD");
    chmodSync(sb.root, 0o755);
    expect(sb.run("chown", ["-R", "nobody", sb.bare]).status).toBe(0);
    // root's reflog of production-devel, which the owner may not append to.
    mkdirSync(join(sb.bare, "logs", "refs", "heads"), { recursive: true });
    writeFileSync(join(sb.bare, "logs", "refs", "heads", "production-devel"), "", { flag: "a" });
    expect(sb.run("chown", ["root", join(sb.bare, "logs", "refs", "heads", "production-devel")]).status).toBe(0);
    const r = asOwner(["qa", "ok", "r2"], "quinn");
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr.trim()).toMatch(
      /^prodgate: refs\/heads\/production-devel cannot be moved: .*Permission denied; files in the repository belong to another user/,
    );
    expect(prodTip()).toBe(r2);
    // The move is in the log, with its event, as any mirror move.
    const moves = () =>
      (JSON.parse(asOwner(["log", "--json"], "quinn").stdout) as { decision: string; code: string; new: string }[]).filter(
        (e) => e.decision === "mirror" && e.new === r2,
      );
    expect(moves().map((e) => e.code)).toEqual(["moved"]);
    const s = asOwner(["sync"], "quinn");
    expect(s.status, s.stderr).toBe(0);
    // Nothing to recover: the move is logged once.
    expect(
      moves()
        .filter((e) => e.code !== "up-to-date")
        .map((e) => e.code),
    ).toEqual(["moved"]);
  });
});

describe("a real lost race", () => {
  it("is retried, never said as a file another user left, also when git speaks German", () => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    work.commit("r2");
    work.land();
    const r2 = work.sha("HEAD");
    const real = sb.run("sh", ["-c", "command -v git"]).stdout.trim();
    const dir = join(sb.root, "racing-git");
    mkdirSync(dir);
    // Just before the mirror's first update-ref of production-stable, another mirror moves it there first.
    writeFileSync(
      join(dir, "git"),
      `#!/bin/sh
case " $* " in
*" update-ref "*"refs/heads/production-stable "*)
  echo x >>"${dir}/update-refs"
  if [ ! -e "${dir}/raced" ]; then : >"${dir}/raced"; "${real}" --git-dir="${sb.bare}" update-ref refs/heads/production-stable ${r2} || exit 99; fi ;;
esac
exec "${real}" "$@"
`,
      { mode: 0o755 },
    );
    const r = sb.prodgate(["qa", "ok", "r2"], "quinn", { PATH: `${dir}:${process.env.PATH}`, LANGUAGE: "de", LC_ALL: "C.UTF-8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("cannot be moved");
    expect(
      readFileSync(join(dir, "update-refs"), "utf8")
        .split("\n")
        .filter((l) => l),
    ).toHaveLength(1);
    expect(sb.tip("production-stable")).toBe(r2);
    const db = new Database(join(sb.bare, "prodgate", "state.db"), { readonly: true });
    try {
      expect(db.prepare("SELECT outcome FROM mirror_runs ORDER BY id").all()).toEqual(expect.arrayContaining([{ outcome: "lost-race" }]));
    } finally {
      db.close();
    }
  });
});
