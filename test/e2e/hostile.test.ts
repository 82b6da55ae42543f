// Hostile input is ordinary input: a catalogue of names, revisions, objects
// and hook input built to break a shell, SQL, git's argument parsing or the
// hooks' reader. Each gets a clear answer, no shell ever runs a value, and
// nothing is recorded that should not be.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Clone, MAIN, type RunResult, Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
const MARK = `/tmp/prodgate-hostile-${process.pid}`;
const TOUCH = `$(touch\${IFS}${MARK})`;

interface LogRow {
  ref: string | null;
  new: string | null;
  user: string | null;
  decision: string;
  code: string | null;
}
const log = () => sb.json<LogRow[]>(["log", "--limit", "100000"]);
const verdicts = () => log().filter((e) => e.decision === "verdict" || e.decision === "ci");

/** No stack traces, no internal errors: one clear line is the bar. */
function expectClear(r: RunResult): void {
  const out = r.stdout + r.stderr;
  expect(out).not.toMatch(/internal error|\n\s+at .*:\d+:\d+|TypeError|SqliteError/);
}

/** A push that must be refused by prodgate with `code`, leaving the ref as it was and nothing recorded but the rejection. */
function expectRefused(args: string[], user: string, code: string, ref: string): void {
  const before = sb.tip(ref);
  const recorded = verdicts().length;
  const r = work.push(args, user);
  expectClear(r);
  expect(r.status, r.output).not.toBe(0);
  expect(r.output).toContain(`[${code}]`);
  expect(sb.tip(ref)).toBe(before);
  expect(verdicts()).toHaveLength(recorded);
}

/** A push git itself refuses (its own checks come before the hooks): nothing changes. */
function expectGitRefuses(args: string[], ref: string): void {
  const before = sb.tip(ref);
  const r = work.push(args, "quinn");
  expect(r.status).not.toBe(0);
  expect(sb.tip(ref)).toBe(before);
}

/** A verdict tag with a strange label is a verdict tag: recorded once, verbatim. */
function expectTagRecorded(label: string, ns = "qa/ok", user = "quinn"): void {
  const ref = `refs/tags/${ns}/${label}`;
  work.git(["tag", `${ns}/${label}`, "stable"]);
  const r = work.push(["origin", ref], user);
  expectClear(r);
  expect(r.status, r.output).toBe(0);
  const rows = log().filter((e) => e.ref === ref);
  expect(rows.filter((e) => e.decision === "accepted")).toHaveLength(1);
  expect(rows.filter((e) => e.decision === "verdict" || e.decision === "ci")).toHaveLength(1);
}

/** The admin command refuses a revision with exit 2 and one line, recording nothing. */
function expectBadRevision(args: string[], message: RegExp): void {
  const recorded = verdicts().length;
  const r = sb.prodgate(args, "quinn");
  expectClear(r);
  expect(r.status, r.stdout + r.stderr).toBe(2);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(message);
  expect(verdicts()).toHaveLength(recorded);
}

/** Feed a hook its standard input directly, as git would. */
function hook(name: string, stdin: string, env: Record<string, string> = {}): RunResult {
  return sb.run(process.execPath, [MAIN, "hook", name], { cwd: sb.bare, input: stdin, env: { GL_USER: "ada", ...env } });
}

function expectHookRejectsInput(stdin: string): void {
  const rows = log().length;
  const r = hook("pre-receive", stdin);
  expectClear(r);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/git sent a line prodgate cannot read/);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  const post = hook("post-receive", stdin);
  expectClear(post);
  expect(log()).toHaveLength(rows);
}

const Z = "0".repeat(40);

const CASES: { name: string; run: () => void }[] = [
  // --- ref names and tag labels --------------------------------------------
  { name: "verdict tag label with $(…) command substitution", run: () => expectTagRecorded(TOUCH) },
  { name: "verdict tag label with backticks", run: () => expectTagRecorded(`\`touch\${IFS}${MARK}\``) },
  { name: "verdict tag label with SQL injection", run: () => expectTagRecorded(`';DROP\${IFS}TABLE\${IFS}audit;--`) },
  { name: "CI tag label with shell metacharacters", run: () => expectTagRecorded(`a;b|c&d>e<f${TOUCH}`, "ci/pass", "cid") },
  { name: "verdict tag label starting with -", run: () => expectTagRecorded("--help") },
  { name: "verdict tag label in unicode", run: () => expectTagRecorded("ünïcødé-✓-發布") },
  {
    name: "verdict tag label with a very long nested name",
    run: () => expectTagRecorded(Array.from({ length: 12 }, () => "x".repeat(200)).join("/")),
  },
  {
    name: "ungoverned branch named with $(…) is git's business",
    run: () => {
      const r = work.push(["origin", `HEAD:refs/heads/${TOUCH}`], "dev");
      expect(r.status, r.output).toBe(0);
      expect(r.output).not.toContain("remote: prodgate");
    },
  },
  {
    name: "ungoverned branch named --force",
    run: () => expect(work.push(["origin", "HEAD:refs/heads/--force"], "dev").status).toBe(0),
  },
  {
    name: "unknown verdict in a qa/ tag",
    run: () => expectRefused(["origin", "stable:refs/tags/qa/maybe/x"], "quinn", "bad-tag-name", "refs/tags/qa/maybe/x"),
  },
  {
    name: "qa/ tag without a label",
    run: () => expectRefused(["origin", "stable:refs/tags/qa/ok"], "quinn", "bad-tag-name", "refs/tags/qa/ok"),
  },
  {
    name: "qa/ tag whose verdict part is $(…)",
    run: () => expectRefused(["origin", `stable:refs/tags/qa/${TOUCH}/x`], "quinn", "bad-tag-name", `refs/tags/qa/${TOUCH}/x`),
  },
  // --- revisions given to the admin command --------------------------------
  { name: "qa ok -- --help", run: () => expectBadRevision(["qa", "ok", "--", "--help"], /may not start with "-"/) },
  { name: "qa ok $(…)", run: () => expectBadRevision(["qa", "ok", TOUCH], /bad revision/) },
  { name: "qa ok with a ; command list", run: () => expectBadRevision(["qa", "ok", "stable;touch /tmp/x"], /bad revision/) },
  { name: "explain -- --output=/tmp/x", run: () => expectBadRevision(["explain", "--", "--output=/tmp/x"], /may not start with "-"/) },
  { name: "qa ok HEAD~ beyond the root", run: () => expectBadRevision(["qa", "ok", "r1~"], /not a commit|bad revision/) },
  { name: "qa ok reversed range", run: () => expectBadRevision(["qa", "ok", "r3..r1"], /reversed/) },
  {
    name: "qa ok range across unrelated histories",
    run: () => expectBadRevision(["qa", "ok", "orphan..stable"], /not an ancestor|unrelated/),
  },
  { name: "qa ok r0", run: () => expectBadRevision(["qa", "ok", "r0"], /revnos start at r1/) },
  { name: "qa ok a revno past the tip", run: () => expectBadRevision(["qa", "ok", "r999999"], /does not exist/) },
  { name: "qa ok a tree", run: () => expectBadRevision(["qa", "ok", "stable^{tree}"], /not a commit/) },
  { name: "qa ok an unknown sha", run: () => expectBadRevision(["qa", "ok", "deadbeef".repeat(5)], /not a commit/) },
  { name: "qa ok a commit off stable's mainline", run: () => expectBadRevision(["qa", "ok", "orphan"], /not a mainline commit/) },
  { name: "explain a range", run: () => expectBadRevision(["explain", "r1..r3"], /is a range/) },
  { name: "log --ref starting with -", run: () => expectBadRevision(["log", "--ref=--all"], /may not start with "-"/) },
  // --- objects that are not what a governed ref takes ------------------------
  {
    name: "an annotated tag object pushed to a governed branch",
    run: () => {
      work.git(["tag", "-a", "-m", "annotated", "annotated-v1", "devel"]);
      const obj = work.sha("annotated-v1");
      const r = work.push(["--force", "origin", `${obj}:refs/heads/devel`], "dev");
      expect(r.status).not.toBe(0);
      expect(sb.tip("refs/heads/devel")).not.toBe(obj);
    },
  },
  {
    name: "a tree pushed to a governed branch",
    run: () => expectGitRefuses(["--force", "origin", "devel^{tree}:refs/heads/devel"], "refs/heads/devel"),
  },
  {
    name: "a verdict tag pointing at a tree",
    run: () => {
      const tree = work.sha("stable^{tree}");
      work.git(["tag", "qa/ok/a-tree", tree]);
      expectRefused(["origin", "refs/tags/qa/ok/a-tree"], "quinn", "verdict-target", "refs/tags/qa/ok/a-tree");
    },
  },
  {
    name: "a verdict tag pointing at a blob",
    run: () => {
      const blob = sb.git(["hash-object", "-w", "--stdin"], { cwd: work.dir, input: "blob\n" });
      work.git(["tag", "qa/ok/a-blob", blob]);
      expectRefused(["origin", "refs/tags/qa/ok/a-blob"], "quinn", "verdict-target", "refs/tags/qa/ok/a-blob");
    },
  },
  {
    name: "a verdict tag on a commit off stable",
    run: () => {
      work.git(["tag", "qa/ok/orphan", "orphan"]);
      expectRefused(["origin", "refs/tags/qa/ok/orphan"], "quinn", "verdict-target", "refs/tags/qa/ok/orphan");
    },
  },
  {
    name: "a CI tag pointing at a tree",
    run: () => {
      work.git(["tag", "ci/pass/a-tree", work.sha("stable^{tree}")]);
      expectRefused(["origin", "refs/tags/ci/pass/a-tree"], "cid", "not-a-commit", "refs/tags/ci/pass/a-tree");
    },
  },
  // --- hook input that git would never send ----------------------------------
  { name: "hook stdin: a line of garbage", run: () => expectHookRejectsInput("garbage\n") },
  {
    name: "hook stdin: shas that are not hex",
    run: () => expectHookRejectsInput(`${"z".repeat(40)} ${"z".repeat(40)} refs/heads/devel\n`),
  },
  { name: "hook stdin: a ref with a space and $(…)", run: () => expectHookRejectsInput(`${Z} ${"a".repeat(40)} refs/heads/x ${TOUCH}\n`) },
  { name: "hook stdin: SHA-1 old with SHA-256 new", run: () => expectHookRejectsInput(`${Z} ${"a".repeat(64)} refs/heads/devel\n`) },
  { name: "hook stdin: a NUL byte in the ref", run: () => expectHookRejectsInput(`${Z} ${"a".repeat(40)} refs/heads/dev\u0000el\n`) },
  {
    name: "hook stdin: a valid line naming an object that does not exist",
    run: () => {
      const r = hook("pre-receive", `${Z} ${"ab".repeat(20)} refs/heads/production-stable\n`);
      expectClear(r);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/rejected refs\/heads\/production-stable/);
    },
  },
  // --- identity from the client ----------------------------------------------
  {
    name: "push options that try to set identity",
    run: () => {
      work.git(["tag", "qa/ok/by-push-option", "stable"]);
      const r = work.push(
        ["-o", "GL_USER=quinn", "-o", "user=quinn", "-o", "prodgate.user=quinn", "origin", "refs/tags/qa/ok/by-push-option"],
        "dev",
      );
      expect(r.status).not.toBe(0);
      expect(r.output).toContain("[role-required]");
      expect(r.output).toContain("which dev does not hold");
      expect(log().find((e) => e.ref === "refs/tags/qa/ok/by-push-option")?.user).toBe("dev");
    },
  },
];

beforeAll(() => {
  ({ sb, work } = standardSandbox());
  sb.git(["config", "receive.advertisePushOptions", "true"], { cwd: sb.bare });
  work.commit("r2");
  work.land();
  work.commit("r3");
  work.land();
  work.git(["checkout", "--quiet", "--orphan", "orphan"]);
  work.commit("unrelated root");
  expect(work.push(["origin", "orphan"], "dev").status).toBe(0);
  work.git(["checkout", "--quiet", "devel"]);
  work.git(["fetch", "--quiet", "origin"]);
  work.git(["branch", "--quiet", "-f", "stable", "origin/stable"]);
});
afterAll(() => sb.cleanup());

describe("hostile input", () => {
  it("the catalogue holds at least 30 cases", () => expect(CASES.length).toBeGreaterThanOrEqual(30));

  it.each(CASES)("$name", ({ run }) => {
    run();
    expect(existsSync(MARK)).toBe(false);
    const fsck = sb.fsck();
    expect(fsck.status, fsck.stderr).toBe(0);
  });

  it("the audit table survived every injection, holding the hostile names verbatim", () => {
    const refs = log().map((e) => e.ref);
    expect(refs).toContain(`refs/tags/qa/ok/';DROP\${IFS}TABLE\${IFS}audit;--`);
    expect(refs).toContain(`refs/tags/qa/ok/${TOUCH}`);
  });
});

describe("large and unusual repositories", () => {
  it("a push of 3000 ungoverned tags with one governed update is judged once", () => {
    work.commit("r-bulk");
    const head = work.sha("HEAD");
    const lines = Array.from({ length: 3000 }, (_, i) => `create refs/tags/bulk/t${i} ${head}`).join("\n");
    sb.git(["update-ref", "--stdin"], { cwd: work.dir, input: `${lines}\n` });
    const r = work.push(["origin", "HEAD:devel", "refs/tags/bulk/*:refs/tags/bulk/*"], "dev");
    expect(r.status, r.output).toBe(0);
    expect(sb.tip("refs/tags/bulk/t2999")).toBe(head);
    const rows = log().filter((e) => e.new === head && e.decision === "accepted");
    expect(rows.map((e) => e.ref)).toEqual(["refs/heads/devel"]);
  });

  it("a SHA-256 repository works end to end", () => {
    const s = new Sandbox();
    try {
      s.git(["init", "--quiet", "--bare", "--object-format=sha256", "--initial-branch=devel", s.bare]);
      const inst = s.install();
      expect(inst.status, inst.stdout + inst.stderr).toBe(0);
      s.grant("qa", "quinn");
      // Cloning an empty repository gives a SHA-1 clone in git 2.39: make the clone SHA-256 too.
      const dir = join(s.root, "work");
      s.git(["init", "--quiet", "--object-format=sha256", "--initial-branch=devel", dir]);
      s.git(["remote", "add", "origin", s.bare], { cwd: dir });
      const c = new Clone(s, dir);
      c.commit("r1: initial");
      c.land();
      c.commit("r2: more");
      c.land();
      const r2 = c.sha("HEAD");
      expect(r2).toHaveLength(64);
      const refused = c.push(["origin", "devel:production-stable"], "dev");
      expect(refused.output).toContain("[unapproved]");
      expect(s.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
      c.git(["tag", "qa/ok/r2", r2]);
      expect(c.push(["origin", "refs/tags/qa/ok/r2"], "quinn").status).toBe(0);
      expect(s.tip("production-stable")).toBe(r2);
      const status = s.json<{ deployable: { sha: string; revno: number } }>(["status"]);
      expect(status.deployable).toMatchObject({ sha: r2, revno: 2 });
      expect(s.fsck().status).toBe(0);
    } finally {
      s.cleanup();
    }
  });
});
