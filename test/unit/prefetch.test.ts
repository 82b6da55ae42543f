// The answers the hook shims hand the engine: where they may come from, and how a query finds its answer.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { takeShimAnswers } from "../../src/git/answers";
import { spawnSync } from "node:child_process";
import { queries, Repo } from "../../src/git/repo";
import { Git, queryKey } from "../../src/git/run";
import { pushIdOf } from "../../src/hooks/input";

let gitDir: string;
beforeEach(() => {
  gitDir = mkdtempSync(join(tmpdir(), "prodgate-answers-"));
  mkdirSync(join(gitDir, "prodgate"));
});
afterEach(() => rmSync(gitDir, { recursive: true, force: true }));

/** Answers as a shim leaves them: <dir>/<pid>.N.{q,status,out}, and their count in <dir>/<pid>.n. */
function answerFiles(dir: string, pid: string, answers: [string, number, string][], count = answers.length): void {
  mkdirSync(dir, { recursive: true });
  answers.forEach(([key, status, out], i) => {
    writeFileSync(join(dir, `${pid}.${i + 1}.q`), key);
    writeFileSync(join(dir, `${pid}.${i + 1}.status`), `${status}\n`);
    writeFileSync(join(dir, `${pid}.${i + 1}.out`), out);
  });
  writeFileSync(join(dir, `${pid}.n`), `${count}\n`);
}

describe("takeShimAnswers", () => {
  it("reads the shim's answers by query, then removes them, leaving other hooks' answers", () => {
    const dir = join(gitDir, "prodgate", "prefetch");
    const key = queryKey(queries.objectType("a".repeat(40)));
    answerFiles(dir, "4242", [[key, 0, "commit\n"]]);
    answerFiles(dir, "77", [[key, 0, "tag\n"]]);
    const answers = takeShimAnswers(join(dir, "4242"), gitDir);
    expect(answers.get(key)).toEqual({ status: 0, stdout: "commit\n", stderr: "" });
    expect(readdirSync(dir).sort()).toEqual(["77.1.out", "77.1.q", "77.1.status", "77.n"]);
  });

  it("takes only the answers the shim's count vouches for: files beyond it are an earlier process's", () => {
    const dir = join(gitDir, "prodgate", "prefetch");
    const fresh = queryKey(queries.objectType("d".repeat(40)));
    const stale = queryKey(queries.refTips(["refs/heads/stable"]));
    answerFiles(
      dir,
      "55",
      [
        [fresh, 0, "commit\n"],
        [stale, 0, "refs/heads/stable\0" + "e".repeat(40) + "\n"],
      ],
      1,
    );
    const answers = takeShimAnswers(join(dir, "55"), gitDir);
    expect([...answers.keys()]).toEqual([fresh]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("takes nothing without a count", () => {
    const dir = join(gitDir, "prodgate", "prefetch");
    answerFiles(dir, "56", [[queryKey(queries.objectType("f".repeat(40))), 0, "commit\n"]]);
    rmSync(join(dir, "56.n"));
    expect(takeShimAnswers(join(dir, "56"), gitDir).size).toBe(0);
  });

  it.each([
    ["a folder outside the repository", (root: string) => join(root, "elsewhere")],
    ["another folder of the repository", (root: string) => join(root, "prodgate", "quiet")],
    ["a path that climbs out", (root: string) => join(root, "prodgate", "prefetch", "..", "..")],
  ])("ignores %s and leaves it alone", (_name, where) => {
    const dir = where(gitDir);
    answerFiles(dir, "7", [[queryKey(queries.objectType("b".repeat(40))), 0, "commit\n"]]);
    expect(takeShimAnswers(join(dir, "7"), gitDir).size).toBe(0);
    expect(existsSync(join(dir, "7.1.q"))).toBe(true);
  });

  it("skips an answer the shim did not finish", () => {
    const dir = join(gitDir, "prodgate", "prefetch");
    answerFiles(dir, "9", [[queryKey(queries.objectType("c".repeat(40))), 0, "commit\n"]]);
    rmSync(join(dir, "9.1.status"));
    expect(takeShimAnswers(join(dir, "9"), gitDir).size).toBe(0);
  });

  it("makes the folder, owner-writable only, when a shim found none", () => {
    expect(takeShimAnswers(undefined, gitDir).size).toBe(0);
    expect(statSync(join(gitDir, "prodgate", "prefetch")).mode & 0o777).toBe(0o755);
  });
});

describe("Git.prefetch", () => {
  it("never takes a failed pipeline for an empty answer: patch-ids of a missing commit fail as asked directly", () => {
    const repoDir = join(gitDir, "repo.git");
    expect(spawnSync("git", ["init", "--quiet", "--bare", repoDir], { env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" } }).status).toBe(0);
    const repo = new Repo(repoDir, new Git(repoDir));
    const missing = "1".repeat(40);
    repo.git.prefetch([queries.objectType(missing), queries.patchIds([missing], ["2".repeat(40)])]);
    expect(() => repo.patchIds([missing], ["2".repeat(40)])).toThrow(/git log/);
  });

  /** A bare repository with stable two commits ahead of production-stable; returns [stable, production-stable]. */
  function twoBranches(repoDir: string): [string, string] {
    const env = {
      ...process.env,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_AUTHOR_NAME: "A",
      GIT_AUTHOR_EMAIL: "a@x",
      GIT_COMMITTER_NAME: "A",
      GIT_COMMITTER_EMAIL: "a@x",
    };
    const g = (...args: string[]) => spawnSync("git", ["--git-dir", repoDir, ...args], { env, encoding: "utf8" }).stdout.trim();
    spawnSync("git", ["init", "--quiet", "--bare", repoDir], { env });
    const tree = g("mktree");
    const r1 = g("commit-tree", tree, "-m", "r1");
    const r2 = g("commit-tree", tree, "-p", r1, "-m", "r2");
    const r3 = g("commit-tree", tree, "-p", r2, "-m", "r3");
    g("update-ref", "refs/heads/stable", r3);
    g("update-ref", "refs/heads/production-stable", r1);
    return [r3, r1];
  }

  const follow = {
    refs: ["refs/heads/stable", "refs/heads/production-stable"] as const,
    query: (a: string, b: string | null) => queries.mainline(a, b ? [b] : []),
  };

  it("asks a follow-up by the shas it read, and keeps its answer under exactly that query", () => {
    const repoDir = join(gitDir, "repo.git");
    const [stable, prod] = twoBranches(repoDir);
    const git = new Git(repoDir);
    git.prefetch([queries.refTips(["refs/heads/stable"])], follow);
    // Under any other shas there is no answer: the caller asks git itself.
    expect(git.take(queries.mainline(prod, [stable]))).toBeUndefined();
    expect(git.take(queries.mainline(stable, []))).toBeUndefined();
    const answer = git.take(queries.mainline(stable, [prod]));
    expect(answer).toBeDefined();
    expect(answer!.stdout).toBe(
      spawnSync("git", ["--git-dir", repoDir, ...queries.mainline(stable, [prod])[0]!], { encoding: "utf8" }).stdout,
    );
    expect(git.take(queries.mainline(stable, [prod]))).toBeUndefined(); // given out once
  });

  it("asks the follow-up without the second ref when it does not exist, and nothing without the first", () => {
    const repoDir = join(gitDir, "repo.git");
    const [stable] = twoBranches(repoDir);
    spawnSync("git", ["--git-dir", repoDir, "update-ref", "-d", "refs/heads/production-stable"]);
    const git = new Git(repoDir);
    git.prefetch([queries.refTips(["refs/heads/stable"])], follow);
    expect(git.take(queries.mainline(stable, []))?.stdout).toContain(stable);
    spawnSync("git", ["--git-dir", repoDir, "update-ref", "-d", "refs/heads/stable"]);
    const again = new Git(repoDir);
    again.prefetch([queries.refTips(["refs/heads/stable"])], follow);
    expect(again.take(queries.mainline(stable, []))).toBeUndefined();
  });
});

describe("queryKey", () => {
  it.each([
    [queries.objectType("abc"), "cat-file\x1f-t\x1fabc\x1f"],
    [
      queries.patchIds(["n"], ["o"]),
      "log\x1f-p\x1f--no-merges\x1f--format=commit %H\x1fn\x1f--not\x1fo\x1f--\x1f\x1epatch-id\x1f--stable\x1f",
    ],
  ])("writes %j as the shims do", (query, key) => expect(queryKey(query)).toBe(key));
});

describe("pushIdOf", () => {
  it("is 12 hex digits, the same for the same input, different for another", () => {
    const a = pushIdOf("0 1 refs/heads/devel\n");
    expect(a).toMatch(/^[0-9a-f]{12}$/);
    expect(pushIdOf("0 1 refs/heads/devel\n")).toBe(a);
    expect(pushIdOf("0 2 refs/heads/devel\n")).not.toBe(a);
  });
});
