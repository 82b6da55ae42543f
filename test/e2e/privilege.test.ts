// Privilege: who someone is comes only from the server; nothing the client
// sends grants a role; no environment variable switches the checks off; an
// update never counts towards another update of the same push; the files that
// hold the rules are not writable by others.
import { chmodSync, statSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Clone, PROJECT, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
afterEach(() => sb?.cleanup());

function newSandbox(): void {
  ({ sb, work } = standardSandbox());
}

function tagPush(tag: string, target: string, env: Record<string, string | undefined>) {
  work.git(["tag", tag, target]);
  return work.push(["origin", `refs/tags/${tag}`], undefined, env);
}

const logRows = () =>
  sb.json<{ ref: string | null; user: string | null; decision: string; code: string | null }[]>(["log", "--limit", "100000"]);

describe("identity comes from the server's variables, in order, then the OS user", () => {
  it("takes the first set, non-empty variable of GL_USERNAME, GL_USER, GITEA_PUSHER_NAME, REMOTE_USER", () => {
    newSandbox();
    expect(tagPush("qa/ok/a", "devel", { GL_USERNAME: "quinn", GL_USER: "mallory" }).status).toBe(0);
    const wrongFirst = tagPush("qa/ok/b", "devel", { GL_USERNAME: "mallory", GL_USER: "quinn" });
    expect(wrongFirst.output).toContain("which mallory does not hold");
    expect(tagPush("qa/ok/c", "devel", { GL_USERNAME: "", GITEA_PUSHER_NAME: "quinn" }).status).toBe(0);
    // Set and non-empty, so it names the pusher: all blanks is no name, and no fall-through to the next variable.
    expect(tagPush("qa/ok/e", "devel", { GL_USER: "  ", GITEA_PUSHER_NAME: "quinn" }).output).toContain("[no-identity]");
    expect(tagPush("qa/ok/d", "devel", { REMOTE_USER: "quinn" }).status).toBe(0);
    const users = new Map(logRows().map((e) => [e.ref, e.user]));
    expect(users.get("refs/tags/qa/ok/a")).toBe("quinn");
    expect(users.get("refs/tags/qa/ok/b")).toBe("mallory");
    expect(users.get("refs/tags/qa/ok/c")).toBe("quinn");
  });

  it("falls back to the OS user, and refuses a governed push with no identity when the fallback is off", () => {
    newSandbox();
    const os = userInfo().username;
    const fallback = tagPush("qa/ok/os", "devel", {});
    expect(fallback.output).toContain(`which ${os} does not hold`);
    sb.grant("qa", os);
    expect(tagPush("qa/ok/os2", "devel", {}).status).toBe(0);

    sb.git(["config", "prodgate.identityFallback", "none"], { cwd: sb.bare });
    work.commit("r2");
    const anonymous = work.push(["origin", "HEAD:devel"]);
    expect(anonymous.status).not.toBe(0);
    expect(anonymous.output).toContain("[no-identity]");
    expect(work.push(["origin", "HEAD:refs/heads/feature"]).status).toBe(0);
    // An override cannot stand in for an identity either.
    expect(work.push(["-o", "prodgate.override=urgent", "origin", "HEAD:devel"]).output).toContain("[no-identity]");
  });
});

describe("nothing the client controls grants a role", () => {
  it("push options, commit authors and tag names are not identities", () => {
    newSandbox();
    work.git(["checkout", "--quiet", "-b", "pdev"]);
    work.commit("authored as sam", { "x.txt": "x" });
    work.git(["commit", "--quiet", "--amend", "--no-edit", "--author", "sam <sam@example.com>"], {
      GIT_COMMITTER_NAME: "sam",
      GIT_COMMITTER_EMAIL: "sam@example.com",
    });
    const byAuthor = work.push(["-o", "GL_USER=sam", "-o", "role=security", "origin", "pdev:production-devel"], "dev");
    expect(byAuthor.output).toContain("[role-required]");
    expect(sb.tip("production-devel")).toBeNull();
    const byTagName = tagPush("qa/ok/GL_USER=quinn", "devel", { GL_USER: "dev" });
    expect(byTagName.output).toContain("[role-required]");
    expect(logRows().filter((e) => e.decision === "verdict")).toEqual([]);
  });
});

describe("no environment variable switches the checks off", () => {
  const evilConfig = () => {
    const path = join(sb.root, "evil.gitconfig");
    writeFileSync(
      path,
      '[prodgate]\n\tproductionStableBranch = elsewhere\n\tidentityFallback = os\n[prodgate "roles"]\n\tsecurity = dev\n\tadmin = dev\n\tqa = dev\n',
    );
    return path;
  };
  const TRICKS: [string, (home: string) => Record<string, string>][] = [
    ["PRODGATE_DISABLE / PRODGATE_SKIP / PRODGATE_OFF", () => ({ PRODGATE_DISABLE: "1", PRODGATE_SKIP: "1", PRODGATE_OFF: "1" })],
    ["PRODGATE_FAULT with an unknown step, PRODGATE_DEBUG", () => ({ PRODGATE_FAULT: "all", PRODGATE_DEBUG: "1" })],
    ["GIT_CONFIG_GLOBAL naming roles and renaming the branch", () => ({ GIT_CONFIG_GLOBAL: evilConfig() })],
    [
      "HOME with a .gitconfig naming roles",
      (home) => (writeFileSync(join(home, ".gitconfig"), `[include]\n\tpath = ${evilConfig()}\n`), {}),
    ],
    [
      "GIT_CONFIG_COUNT/KEY/VALUE",
      () => ({ GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "prodgate.roles.security", GIT_CONFIG_VALUE_0: "dev" }),
    ],
    ["GIT_CONFIG_PARAMETERS", () => ({ GIT_CONFIG_PARAMETERS: "'prodgate.productionstablebranch'='elsewhere'" })],
    ["GIT_NO_REPLACE_OBJECTS=0 and GIT_QUARANTINE_PATH empty", () => ({ GIT_NO_REPLACE_OBJECTS: "0", GIT_QUARANTINE_PATH: "" })],
  ];

  it.each(TRICKS)("%s", (_name, env) => {
    newSandbox();
    work.commit("r2: unapproved");
    work.land();
    const r = work.push(["origin", "devel:production-stable"], "dev", env(sb.home));
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("[unapproved]");
    expect(sb.tip("production-stable")).toBeNull();
  });

  it("a pushed replace ref cannot make an unapproved commit look approved", () => {
    newSandbox();
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    expect(sb.prodgate(["freeze", "--reason", "hold"], "ada").status).toBe(0);
    const r1 = work.sha("HEAD");
    const r2 = work.commit("r2");
    work.land();
    expect(sb.prodgate(["qa", "ok", "r2"], "quinn").status).toBe(0);
    // An evil commit on production-stable's tip, and a replacement of the deployable r2 that claims it as a parent.
    const evil = work.git(["commit-tree", "-m", "evil", "-p", r1, work.sha("HEAD^{tree}")]);
    const fake = work.git(["commit-tree", "-m", "r2", "-p", r1, "-p", evil, work.sha(`${r2}^{tree}`)]);
    work.git(["replace", r2, fake]);
    expect(work.push(["origin", `refs/replace/${r2}`], "dev").status).toBe(0);
    const attack = work.push(["origin", `${evil}:refs/heads/production-stable`], "dev", { GIT_NO_REPLACE_OBJECTS: "1" });
    expect(attack.status).not.toBe(0);
    expect(attack.output).toContain("[unapproved]");
    expect(sb.tip("production-stable")).toBe(r1);
  });
});

describe("an update never counts towards another update of the same push", () => {
  it("a qa/ok tag does not approve a production-stable update beside it", () => {
    newSandbox();
    work.git(["tag", "qa/ok/r1", "HEAD"]);
    const r = work.push(["origin", "refs/tags/qa/ok/r1", "devel:production-stable"], "quinn");
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("[unapproved]");
    expect(sb.tip("refs/tags/qa/ok/r1")).toBeNull();
    expect(sb.tip("production-stable")).toBeNull();
  });

  it("a ci/pass tag or a production-devel update does not count for a promotion beside it", () => {
    newSandbox();
    sb.grant("ci", "sam");
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    work.git(["checkout", "--quiet", "-b", "pdev"]);
    const fix = work.commit("security: fix 1");
    expect(work.push(["origin", "pdev:production-devel"], "sam").status).toBe(0);
    work.git(["tag", "ci/pass/fix1", fix]);
    const withCi = work.push(["origin", "refs/tags/ci/pass/fix1", "pdev:production-stable"], "sam");
    expect(withCi.output).toContain("[no-ci-pass]");
    expect(sb.tip("refs/tags/ci/pass/fix1")).toBeNull();

    const fix2 = work.commit("security: fix 2");
    expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
    expect(work.push(["origin", "pdev:refs/heads/security-wip"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix2], "cid").status).toBe(0);
    const withDevel = work.push(["origin", "pdev:production-devel", "pdev:production-stable"], "sam");
    expect(withDevel.output).toContain("[not-on-production-devel]");
    expect(sb.tip("production-stable")).toBe(work.sha("devel"));
    expect(sb.tip("production-devel")).toBe(fix);
  });
});

describe("the files that hold the rules", () => {
  const others = (path: string) => statSync(path).mode & 0o022;

  it("are not group- or world-writable after install, even under umask 000, and doctor warns when they are", () => {
    newSandbox();
    const r = sb.run("sh", ["-c", `umask 000 && bash '${join(PROJECT, "install.sh")}' '${sb.bare}'`]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const db = join(sb.bare, "prodgate", "state.db");
    const trusted = [join(sb.bare, "prodgate"), join(sb.bare, "prodgate", "prefetch")];
    for (const path of [join(sb.bare, "hooks", "pre-receive"), join(sb.bare, "hooks", "post-receive"), db, ...trusted]) {
      expect(others(path), path).toBe(0);
    }
    const clean = sb.prodgate(["doctor"]);
    expect(clean.stdout).not.toMatch(/WARN +(hook|database)/);

    chmodSync(join(sb.bare, "hooks", "pre-receive"), 0o775);
    chmodSync(db, 0o666);
    chmodSync(join(sb.bare, "prodgate"), 0o777);
    const doctor = sb.prodgate(["doctor"]);
    expect(doctor.stdout).toMatch(/WARN +hook pre-receive: .*writable by group or others/);
    expect(doctor.stdout).toMatch(/WARN +database permissions: .*writable by group or others/);
    expect(doctor.stdout).toMatch(/WARN +database directory permissions: .*writable by group or others/);
    // Running install again puts them right.
    expect(sb.install().status).toBe(0);
    expect(others(join(sb.bare, "hooks", "pre-receive"))).toBe(0);
    expect(others(db)).toBe(0);
  });
});
