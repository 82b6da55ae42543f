// The walk of stable over commit messages a developer with no role can write:
// field separators, carriage returns, blank lines around the text, lines that
// look like git log's marks, bytes that are not UTF-8, a very long subject, an
// empty message, and an octopus merge bringing unrelated roots. Pushed for
// real through the installed hooks; every number and decision is checked
// against git itself and against the parser as it was before.
import { spawnSync } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { COMMIT_FORMAT, parseCommits } from "../../src/git/parse";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";
import * as before from "../unit/before/parse";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
});
afterEach(() => sb.cleanup());

/** `git commit-tree` in the clone with the message's exact bytes on stdin (an empty one included). */
function commitTree(parents: string[], message: Buffer | string): string {
  const tree = work.git(["rev-parse", "HEAD^{tree}"]);
  const r = spawnSync("git", ["commit-tree", tree, ...parents.flatMap((p) => ["-p", p]), "-F", "-"], {
    cwd: work.dir,
    env: sb.env(),
    input: typeof message === "string" ? Buffer.from(message, "utf8") : message,
  });
  if (r.status !== 0) throw new Error(`commit-tree failed: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

/** What a commit's message is as git stores it (the text after the header), as prodgate reads it: trailing newlines dropped. */
function storedMessage(sha: string): { message: string; subject: string } {
  const r = spawnSync("git", ["cat-file", "commit", sha], { cwd: sb.bare, env: sb.env() });
  const text = r.stdout.toString("utf8");
  const message = text.slice(text.indexOf("\n\n") + 2).replace(/\n+$/, "");
  return { message, subject: message.split("\n", 1)[0]! };
}

function gitOut(args: string[]): string {
  const r = spawnSync("git", args, { cwd: sb.bare, env: sb.env(), maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString("utf8");
}

interface Undeployed {
  sha: string;
  revno: number;
  subject: string;
  verdict: string;
}

const HOSTILE: (string | Buffer)[] = [
  "",
  "sub\x1fject\x1f\x1ftail\n\nbody\x1f\n",
  "\r\nleading crlf\r\n\r\n",
  "\n\n\nleading blank lines\n\n\n",
  "-\n>\n-\n> quoted\n- dashed",
  ">",
  "-",
  Buffer.concat([
    Buffer.from("bytes "),
    Buffer.from([0xff, 0xfe, 0x80, 0xc0, 0xaf, 0xed, 0xa0, 0x80]),
    Buffer.from(" e\u0301 \u202e \ufeff \u{1f600}\n"),
  ]),
  `${"x".repeat(100_000)}\n\nlong subject`,
];

describe("the walk of stable over hostile commit messages", () => {
  it("numbers, names and judges each revision as git and the parser before do; production-stable takes only what QA passed", () => {
    const r1 = work.sha("HEAD");
    let tip = r1;
    for (const m of HOSTILE) tip = commitTree([tip], m);
    // An octopus merge on the mainline: unrelated roots (one whose subject is a lone "-"), a side branch, a separator.
    const rootA = commitTree([], "root side");
    const rootB = commitTree([], "-\n");
    const side = commitTree([r1], "side two");
    const sep = commitTree([side], "\x1f");
    tip = commitTree([tip, rootA, side, rootB, sep], "octopus\r\n\r\nfive parents");
    tip = commitTree([tip], "after octopus [bug=12]\r\n\r\nbody");
    tip = commitTree([tip], "\x1f");
    work.git(["reset", "--quiet", "--hard", tip]);
    work.land();
    expect(sb.tip("stable")).toBe(tip);

    // git's own output of the walk's query, and of the whole history: the parser cuts it as the parser before did.
    for (const query of [
      ["log", "-z", "--first-parent", "--boundary", COMMIT_FORMAT, "stable", "--not", r1, "--"],
      ["log", "-z", COMMIT_FORMAT, "stable", "--"],
      ["log", "-z", "--left-right", COMMIT_FORMAT, `${rootA}...stable`, "--"],
    ]) {
      const out = gitOut(query);
      expect(parseCommits(out)).toEqual(before.parseCommits(out));
    }

    // Every revision awaiting production: stable's first-parent chain, numbered and named as git stores it.
    const mainline = gitOut(["rev-list", "--first-parent", "--reverse", "stable"]).trim().split("\n");
    expect(mainline).toHaveLength(13);
    const status = sb.json<{ undeployed: Undeployed[]; deployable: { revno: number } | null }>(["status"]);
    expect(status.undeployed.map((u) => u.sha)).toEqual(mainline);
    for (const u of status.undeployed) {
      expect(u.revno).toBe(Number(gitOut(["rev-list", "--count", "--first-parent", u.sha]).trim()));
      expect(u.subject).toBe(storedMessage(u.sha).subject);
      expect(u.verdict).toBe("needstesting");
    }
    expect(status.deployable).toBeNull();

    // A replace ref (ungoverned, anyone may push it) dressing r8 up as [no-qa]: history means what it meant.
    const fake = commitTree([mainline[6]!], "[no-qa] nothing to see");
    const rep = work.push(["origin", `${fake}:refs/replace/${mainline[7]}`]);
    expect(rep.status, rep.output).toBe(0);

    // QA passes all but r8: production-stable stops at r7, then takes the rest once r8 passes.
    expect(sb.prodgate(["qa", "ok", "r1..r7"], "quinn").status).toBe(0);
    expect(sb.prodgate(["qa", "bad", "r8"], "quinn").status).toBe(0);
    expect(sb.prodgate(["qa", "ok", "r9..r13"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(mainline[6]);
    const held = sb.json<{ deployable: { revno: number; sha: string }; blocker: { revno: number } }>(["status"]);
    expect(held.deployable).toMatchObject({ revno: 7, sha: mainline[6] });
    expect(held.blocker.revno).toBe(8);
    const explained = sb.prodgate(["explain", "r13", "--json"]);
    expect(JSON.parse(explained.stdout)).toMatchObject({
      rev: { revno: 13, sha: tip, subject: "\x1f" },
      deployable: false,
      stoppedBy: { revno: 8, sha: mainline[7], subject: "-", reason: "bad" },
    });
    expect(sb.prodgate(["qa", "ok", "r8"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(tip);
    expect(gitOut(["rev-list", "--first-parent", "--reverse", "production-stable"]).trim().split("\n")).toEqual(mainline);
    expect(sb.json<{ undeployed: unknown[] }>(["status"]).undeployed).toEqual([]);
  }, 120_000);
});
