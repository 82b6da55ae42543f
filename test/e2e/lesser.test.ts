// Lesser faults: a damaged database, role removal, exact identities, what is
// printed from user text, a closed output, symbolic refs and fix tracking.
import { spawn } from "node:child_process";
import { readFileSync, statSync, truncateSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, MAIN, type RunResult, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
});
afterEach(() => sb.cleanup());

const dbPath = () => join(sb.bare, "prodgate", "state.db");

/** No stack trace, no internal error: one clear line. */
function expectClear(r: RunResult): void {
  expect(r.stdout + r.stderr).not.toMatch(/internal error|\n\s+at .*:\d+:\d+|TypeError|SqliteError/);
}

describe("a damaged database", () => {
  function damage(content: string): void {
    // The hooks leave the write-ahead log for SQLite to fold in later: damage all of it.
    for (const extra of ["-wal", "-shm"]) rmSync(dbPath() + extra, { force: true });
    if (content === "") truncateSync(dbPath(), 0);
    else writeFileSync(dbPath(), content);
  }

  for (const [what, content] of [
    ["empty (0 bytes)", ""],
    ["not a database", "this is not a SQLite database, just some text that is long enough\n".repeat(20)],
  ] as const) {
    it(`${what}: a governed push, every command, doctor and install refuse it, and nothing is recreated`, () => {
      expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
      work.commit("r2: next");
      work.land();
      const prod = sb.tip("production-stable");
      damage(content);
      const size = statSync(dbPath()).size;
      const push = work.push(["origin", "HEAD:production-stable"], "dev");
      expectClear(push);
      expect(push.status).not.toBe(0);
      expect(push.output).toMatch(/prodgate's database \(.*state\.db\) is damaged/);
      for (const args of [["status"], ["log"], ["security"]]) {
        const r = sb.prodgate(args, "ada");
        expectClear(r);
        expect(r.status, args.join(" ")).toBe(1);
        expect(r.stderr).toMatch(/is damaged/);
      }
      const doctor = sb.prodgate(["doctor"], "ada");
      expect(doctor.status).toBe(1);
      expect(doctor.stdout).toMatch(/FAIL\s+database: .*damaged/);
      const install = sb.install();
      expect(install.status).not.toBe(0);
      expect(install.stdout + install.stderr).toMatch(/is damaged/);
      expect(statSync(dbPath()).size).toBe(size);
      if (content !== "") expect(readFileSync(dbPath(), "utf8")).toBe(content);
      expect(sb.tip("production-stable")).toBe(prod);
    });
  }
});

describe("role remove", () => {
  const roles = () => sb.json<Record<string, string[]>>(["role", "list"]);

  it("a grant in an included file: refused, naming the file, and the grant is still counted", () => {
    const inc = join(sb.root, "roles.inc");
    writeFileSync(inc, '[prodgate "roles"]\n\tqa = rita\n');
    sb.git(["config", "include.path", inc], { cwd: sb.bare });
    expect(roles().qa).toContain("rita");
    const r = sb.prodgate(["role", "remove", "qa", "rita"], "ada");
    expectClear(r);
    expect(r.status).toBe(1);
    expect(r.stdout).not.toMatch(/removed/);
    expect(r.stderr).toContain(inc);
    expect(r.stderr).toMatch(/nothing was removed/);
    expect(roles().qa).toContain("rita");
  });

  it("a grant under a differently-cased prodgate.Roles.qa is really removed, and the role no longer counts", () => {
    sb.git(["config", "prodgate.Roles.qa", "rita"], { cwd: sb.bare });
    sb.git(["config", "--add", "prodgate.roles.qa", "rita"], { cwd: sb.bare });
    expect(roles().qa).toContain("rita");
    work.git(["tag", "qa/ok/by-rita", "HEAD"]);
    const r = sb.prodgate(["role", "remove", "qa", "rita"], "ada");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("removed: rita no longer holds qa");
    expect(roles().qa).not.toContain("rita");
    expect(sb.git(["config", "--list"], { cwd: sb.bare })).not.toMatch(/roles\.qa=rita/i);
    const push = work.push(["origin", "qa/ok/by-rita"], "rita");
    expect(push.status).not.toBe(0);
    expect(push.output).toContain("[role-required]");
  });
});

describe("identities are taken exactly", () => {
  for (const [what, name] of [
    ["surrounding spaces", " quinn "],
    ["an ideographic space", "\u3000quinn"],
    ["a trailing tab", "quinn\t"],
    ["a bidi override", "quinn\u202e"],
    ["a C1 control", "quinn\u0085"],
  ] as const) {
    it(`${what}: a governed push is refused with one clear line, and the admin command too`, () => {
      work.git(["tag", "qa/ok/spaced", "HEAD"]);
      const r = work.push(["origin", "qa/ok/spaced"], name);
      expectClear(r);
      expect(r.status).not.toBe(0);
      expect(r.output).toContain("[no-identity]");
      expect(r.output).toContain("the user name in GL_USER holds whitespace or control characters");
      expect(sb.tip("refs/tags/qa/ok/spaced")).toBeNull();
      const cli = sb.prodgate(["qa", "ok", "r1"], name);
      expect(cli.status).toBe(2);
      expect(cli.stderr).toContain("holds whitespace or control characters");
      // The exact name still works.
      expect(work.push(["origin", "qa/ok/spaced"], "quinn").status).toBe(0);
    });
  }
});

describe("what prodgate prints from user text", () => {
  // U+009B is a CSI on many terminals; U+202E reverses what follows; U+2028 breaks a line.
  const HOSTILE = "pwn\u009b2J\u001b[31m\u202eevil\u2066x\u2069\u2028line\u0085end";
  // What the admin command accepts in a --reason or --note (it refuses C0 controls).
  const HOSTILE_TEXT = "pwn\u009b2J\u202eevil\u2066x\u2069\u2028line\u0085end";
  // eslint-disable-next-line no-control-regex
  const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

  function expectSafe(text: string, cut = true): void {
    expect(text).not.toMatch(RAW);
    if (cut) for (const line of text.split("\n")) expect(line.length).toBeLessThanOrEqual(2000);
  }

  it("a hostile 1 MB subject and freeze reason reach no terminal raw, and are cut", () => {
    const subject = `${HOSTILE} ${"A".repeat(1024 * 1024)}`;
    const msg = join(sb.root, "msg");
    writeFileSync(msg, `${subject}\n`);
    work.git(["commit", "--quiet", "--allow-empty", "-F", msg]);
    work.land();
    // Refused, listing the unapproved commit with its subject.
    const push = work.push(["origin", "HEAD:production-stable"], "dev");
    expect(push.status).not.toBe(0);
    expect(push.output).toContain("[unapproved]");
    expectSafe(push.output);
    expect(push.output).toMatch(/pwn\?2J\?\[31m\?evil\?x\?\?line\?end A+…/);
    expect(sb.prodgate(["freeze", "--reason", `incident ${HOSTILE_TEXT}`], "ada").status).toBe(0);
    expect(sb.prodgate(["qa", "ok", "r2", "--note", `note ${HOSTILE_TEXT}`], "quinn").status).toBe(0);
    for (const args of [["status"], ["log"], ["qa", "pending"], ["explain", "r2"], ["role", "list"]]) {
      const r = sb.prodgate(args, "ada");
      expectClear(r);
      expectSafe(r.stdout + r.stderr);
      const json = sb.prodgate([...args, "--json"], "ada");
      // JSON carries the whole text, escaped.
      expectSafe(json.stdout, false);
      JSON.parse(json.stdout);
    }
    const status = sb.prodgate(["status", "--json"], "ada").stdout;
    expect(status).toContain("\\u009b");
    expect(status).toContain("\\u202e");
    // Escaped, not changed: the document still says what was written.
    expect(JSON.parse(status).freeze.reason).toBe(`incident ${HOSTILE_TEXT}`);
    const human = sb.prodgate(["status"], "ada").stdout;
    expect(human).toContain("incident pwn?2J?evil?x??line?end");
    const frozen = work.push(["origin", "HEAD:production-stable"], "dev");
    expectSafe(frozen.output);
  });
});

describe("a reader that stops reading", () => {
  /** Run the admin command with its stdout a pipe closed before it writes: what it says on stderr, and its status. */
  function closedStdout(args: string[]): Promise<{ status: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [MAIN, "--repo", sb.bare, ...args], {
        env: sb.env({ GL_USER: "ada" }),
        stdio: ["ignore", "pipe", "pipe"],
      });
      child.stdout.destroy();
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (status) => resolve({ status, stderr }));
    });
  }

  for (const args of [["log"], ["explain", "r1"], ["role", "list"], ["status", "--json"]]) {
    it(`prodgate ${args.join(" ")} | head -1 exits quietly`, async () => {
      const r = await closedStdout(args);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    });
  }

  it("a check that fails keeps its failing status when its reader goes away (doctor)", async () => {
    sb.git(["config", "prodgate.stableWriters", "nobody"], { cwd: sb.bare });
    const r = await closedStdout(["doctor"]);
    expect(r.status).toBe(1);
  });
});

describe("a symbolic ref aliasing a governed ref", () => {
  const alias = (name: string, target: string) => sb.git(["symbolic-ref", name, target], { cwd: sb.bare });

  for (const name of ["refs/heads/prod", "refs/deploy/prod"]) {
    it(`a push to ${name} -> production-stable is judged as production-stable`, () => {
      alias(name, "refs/heads/production-stable");
      const before = sb.tip("production-stable");
      work.commit("unapproved work");
      const r = work.push(["origin", `HEAD:${name}`], "dev");
      expectClear(r);
      expect(r.status).not.toBe(0);
      expect(r.output).toContain("rejected refs/heads/production-stable [unapproved]");
      expect(r.output).toContain(`pushed as ${name}, a symbolic ref to refs/heads/production-stable`);
      expect(sb.tip("production-stable")).toBe(before);
      const rows = sb.json<{ ref: string; decision: string; code: string }[]>(["log", "--limit", "5"]);
      expect(rows[0]).toMatchObject({ ref: "refs/heads/production-stable", decision: "rejected", code: "unapproved" });
    });
  }

  it("deleting the alias deletes its target in git: refused as a deletion of production-stable", () => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    alias("refs/heads/prod", "refs/heads/production-stable");
    const before = sb.tip("production-stable");
    expect(before).not.toBeNull();
    const r = work.push(["origin", ":refs/heads/prod"], "dev");
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("[delete-protected]");
    expect(sb.tip("production-stable")).toBe(before);
  });

  it("a chain of symbolic refs to a verdict tag: the tag never moves", () => {
    sb.prodgate(["qa", "ok", "r1"], "quinn");
    work.git(["tag", "qa/ok/first", "HEAD"]);
    expect(work.push(["origin", "qa/ok/first"], "quinn").status).toBe(0);
    alias("refs/heads/b", "refs/tags/qa/ok/first");
    alias("refs/heads/a", "refs/heads/b");
    const tag = sb.tip("refs/tags/qa/ok/first");
    work.commit("moves the verdict");
    const r = work.push(["origin", "HEAD:refs/heads/a"], "quinn");
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("[tag-immutable]");
    expect(sb.tip("refs/tags/qa/ok/first")).toBe(tag);
  });

  it("an accepted security promotion through the alias is recorded as one, and doctor names the alias", () => {
    alias("refs/heads/prod", "refs/heads/production-stable");
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
    const fix = work.commit("Fix auth bypass", { "auth.c": "check\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
    const r = work.push(["origin", "HEAD:refs/heads/prod"], "sam");
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("recorded 1 security fix");
    expect(sb.tip("production-stable")).toBe(fix);
    // One whose target does not exist yet: a push to it would create the target.
    alias("refs/heads/later", "refs/heads/renamed-production");
    sb.git(["config", "prodgate.governed", "refs/heads/renamed-*"], { cwd: sb.bare });
    const doctor = sb.prodgate(["doctor"], "ada");
    expect(doctor.stdout).toMatch(/WARN\s+symbolic refs: refs\/heads\/prod is a symbolic ref to refs\/heads\/production-stable/);
    expect(doctor.stdout).toMatch(/WARN\s+symbolic refs: refs\/heads\/later is a symbolic ref to refs\/heads\/renamed-production/);
  });
});

describe("security fixes: a trailer is a claim, and a fix picked before its promotion counts", () => {
  interface Fix {
    sha: string;
    devel: { sha: string; how: string } | null;
    stable: { sha: string; how: string } | null;
  }
  const fixes = () => sb.json<Fix[]>(["security"]);

  beforeEach(() => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
  });

  /** A fix on production-devel with a CI pass, not yet promoted. */
  function prepareFix(): string {
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
    const fix = work.commit("Fix auth bypass", { "auth.c": "check the password\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
    return fix;
  }
  function promote(): RunResult & { output: string } {
    const r = work.push(["origin", "secfix:production-stable"], "sam");
    expect(r.status, r.output).toBe(0);
    return r;
  }
  function onDevel(): void {
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["pull", "--quiet", "--ff-only", "origin", "devel"]);
  }
  const fake = (fix: string) =>
    work.commit(`Unrelated tidy-up\n\n(cherry picked from commit ${fix})`, { "other.c": "nothing to do with auth\n" });

  it("a fake cherry-pick trailer does not bring a fix back, and the disagreement is said and logged", () => {
    const fix = prepareFix();
    promote();
    onDevel();
    const liar = fake(fix);
    const r = work.push(["origin", "HEAD:devel"], "dev");
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain(`${liar.slice(0, 7)} says it is a cherry-pick of security fix ${fix.slice(0, 7)}`);
    expect(r.output).toMatch(/devel does not hold the fix's change/);
    expect(fixes()[0]).toMatchObject({ sha: fix, devel: null });
    const rows = sb.json<{ decision: string; code: string; new: string; old: string; reason: string }[]>(["log", "--limit", "10"]);
    expect(rows.find((e) => e.code === "disputed")).toMatchObject({ decision: "merge-back", new: liar, old: fix });
    expect(sb.prodgate(["security"], "ada").stdout).toContain(
      `${liar.slice(0, 7)} on devel says it is a cherry-pick of this fix, but devel did not hold its change`,
    );
    // The real thing is recognised.
    work.git(["cherry-pick", "-x", fix]);
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    expect(fixes()[0]!.devel).toMatchObject({ how: "cherry-pick" });
  });

  it("picked into devel and stable before the promotion (cherry-pick -x): back in both once promoted", () => {
    const fix = prepareFix();
    onDevel();
    work.git(["cherry-pick", "-x", fix]);
    const pick = work.sha("HEAD");
    work.land();
    const r = promote();
    expect(r.output).toContain("recorded 1 security fix");
    expect(r.output).toContain("already back in devel or stable");
    expect(fixes()[0]).toMatchObject({ sha: fix, devel: { sha: pick, how: "cherry-pick" }, stable: { sha: pick, how: "cherry-pick" } });
  });

  it("picked into devel before the promotion without a trailer (patch-id), then into stable later", () => {
    const fix = prepareFix();
    onDevel();
    work.commit("r2: feature", { "feature.c": "f\n" });
    work.land();
    work.git(["cherry-pick", fix]);
    work.git(["commit", "--quiet", "--amend", "-m", "Port the auth fix"]);
    const pick = work.sha("HEAD");
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    promote();
    expect(fixes()[0]).toMatchObject({ devel: { sha: pick, how: "patch-id" }, stable: null });
    expect(work.push(["origin", "HEAD:stable"], "dev").status).toBe(0);
    expect(fixes()[0]!.stable).toMatchObject({ sha: pick, how: "patch-id" });
  });

  it("merged into devel before the promotion (ancestry)", () => {
    const fix = prepareFix();
    onDevel();
    work.git(["merge", "--quiet", "--no-edit", "secfix"]);
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    promote();
    expect(fixes()[0]).toMatchObject({ sha: fix, devel: { how: "ancestry" }, stable: null });
  });

  it("a fake trailer on devel before the promotion is disputed at the promotion, not counted", () => {
    const fix = prepareFix();
    onDevel();
    fake(fix);
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    const r = promote();
    expect(r.output).toMatch(/devel does not hold the fix's change/);
    expect(fixes()[0]).toMatchObject({ sha: fix, devel: null, stable: null });
  });
});
