// The Bazaar server is a gate, not a file server: a developer with push access
// and no role, using a plain brz client (and Breezy's API for what brz will not
// do by itself) against `prodgate serve-bzr`, cannot move a governed branch
// except through prodgate's judgement, nor stop everyone else's pushes.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BzrServer, hasBrz, servedBzr } from "../helpers/bzr";
import { cleanEnv, MAIN, PROJECT } from "../helpers/repo";

// Breezy's API for what the brz command line does not offer: revisions with
// chosen ids and parents, a tip set with a chosen revno, a lock taken and left.
const PY = `
import os, sys, breezy
with breezy.initialize(setup_ui=False):
    import breezy.bzr
    from breezy.branch import Branch
    from breezy.workingtree import WorkingTree
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "commit":
        WorkingTree.open(args[0]).commit(message=args[2], rev_id=args[1].encode(), allow_pointless=True)
    elif cmd == "commit-parents":
        wt = WorkingTree.open(args[0])
        tip = wt.last_revision()
        ids = [tip if p == "tip" else p.encode() for p in args[3:]]
        if ids[0] != tip:
            wt.branch.set_last_revision_info(0, b"null:")
        wt.set_parent_ids(ids, allow_leftmost_as_ghost=True)
        wt.commit(message=args[2], rev_id=args[1].encode(), allow_pointless=True)
    elif cmd == "set-tip":
        b = Branch.open(args[0])
        with b.lock_write():
            b.set_last_revision_info(int(args[2]), args[1].encode())
    elif cmd == "hold-lock":
        b = Branch.open(args[0])
        b.lock_write()
        print("locked", flush=True)
        sys.stdin.read()  # held while the connection lasts; the server releases it when this ends
        os._exit(0)
`;

describe.skipIf(!hasBrz)("the Bazaar server is a gate (skipped where brz is absent: run .ci/deps-bzr.sh)", () => {
  let s: BzrServer;
  let root: string;
  let srv: string;
  const env = (extra: Record<string, string | undefined> = {}) => s.env(extra);
  const run = (cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string } = {}) =>
    s.run(cmd, args, opts);
  const url = (branch: string) => s.url(branch);
  const prodgate = (args: string[], extra: Record<string, string | undefined> = {}) => s.prodgate(args, extra);
  const brz = (args: string[], cwd = join(root, "wt")) => s.brz(args, cwd);
  const py = (args: string[]) => run("/usr/bin/python3", ["-c", PY, ...args]);
  const revno = (branch: string) => s.revno(branch);
  const revid = (branch: string) => s.revid(branch);
  const commit = (dir: string, file: string, message: string) => s.commit(file, message, dir);
  const audit = () => JSON.parse(prodgate(["log", "--json"]).stdout) as { ref: string; decision: string; code: string; new: string }[];

  beforeAll(async () => {
    s = await servedBzr("bzr-gate");
    ({ root, srv } = s);
    commit(join(root, "wt"), "a.txt", "first change");
    expect(brz(["push", "-q", url("devel")]).status).toBe(0);
    expect(brz(["push", "-q", url("stable")]).status).toBe(0);
  });

  afterAll(() => s?.cleanup());

  it("refuses to serve when the plugin does not load", () => {
    const r = run(process.execPath, [MAIN, "--repo", srv, "serve-bzr", "--inet"], { env: { BRZ_DISABLE_PLUGINS: "prodgate_bzr" } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("prodgate's Breezy plugin did not load");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("keeps a client from writing a governed branch's files: a remote pull -d changes nothing", () => {
    const r = brz(["pull", "-d", url("production-stable"), url("devel")]);
    expect(r.status).not.toBe(0);
    expect(revno("production-stable")).toBe("0");
    expect(audit().some((e) => e.ref === "refs/heads/production-stable" && e.decision === "accepted")).toBe(false);
  });

  it("keeps prodgate's state out of the served tree and refuses files planted in control directories", () => {
    expect(existsSync(join(srv, ".bzr", "prodgate"))).toBe(false);
    expect(existsSync(`${srv}.prodgate/config`)).toBe(true);
    for (const path of ["production-stable/.bzr/branch/lock/held", ".bzr/repository/lock/held", ".bzr/prodgate/state.db-wal"]) {
      const r = brz(["push", "-q", "--create-prefix", url(path)]);
      expect(r.status, path).not.toBe(0);
      expect(r.stderr, path).toContain("prodgate refused");
    }
    commit(join(root, "wt"), "b.txt", "second change");
    const push = brz(["push", "-q", url("devel")]);
    expect(push.status, push.stderr).toBe(0);
    expect(revno("devel")).toBe("2");
  });

  it("refuses rmbranch, reconfigure, stacking and config changes of governed branches, not of others", () => {
    const rm = brz(["rmbranch", url("stable")]);
    expect(rm.status).not.toBe(0);
    expect(rm.stderr).toContain("stable is governed by prodgate");
    expect(revno("stable")).toBe("1");
    expect(brz(["reconfigure", "--standalone", url("production-stable")]).status).not.toBe(0);
    expect(brz(["config", "-d", url("devel"), "stacked_on_location=/tmp"]).status).not.toBe(0);
    expect(brz(["reconfigure", "--stacked-on", url("stable"), url("devel")]).status).not.toBe(0);
    expect(brz(["push", "-q", url("scratch")]).status).toBe(0);
    const rmScratch = brz(["rmbranch", url("scratch")]);
    expect(rmScratch.status, rmScratch.stderr).toBe(0);
  });

  it("does not let an ungoverned branch stacked outside the server stop pushes to governed ones", () => {
    expect(run("brz", ["init", "-q", join(root, "outside")]).status).toBe(0);
    expect(brz(["push", "-q", url("feature")]).status).toBe(0);
    const conf = join(srv, "feature", ".bzr", "branch", "branch.conf");
    writeFileSync(conf, `stacked_on_location = file://${root}/outside\n`);
    try {
      commit(join(root, "wt"), "c.txt", "third change");
      const r = brz(["push", "-q", url("devel")]);
      expect(r.status, r.stderr).toBe(0);
      expect(revno("devel")).toBe("3");
    } finally {
      writeFileSync(conf, "");
    }
  });

  it("says --overwrite, Bazaar's word, in the non-fast-forward hint", () => {
    const r = brz(["uncommit", "--force", url("devel")]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("[non-fast-forward]");
    expect(r.stderr).toContain("--overwrite");
    expect(r.stderr).not.toContain("--force");
    expect(revno("devel")).toBe("3");
  });

  it("refuses revision ids that could be misread as a branch name, the null revision, a revno or terminal control", () => {
    const craft = join(root, "craft");
    expect(brz(["branch", "-q", url("devel"), craft], root).status).toBe(0);
    for (const id of ["stable", "0".repeat(40), "r7", "evil-\u001b]0;pwned\u0007", "bidi-\u202eokay", "line-\u2028sep"]) {
      const c = py(["commit", craft, id, "crafted"]);
      expect(c.status, c.stderr).toBe(0);
      const r = brz(["push", "-q", url("devel")], craft);
      expect(r.status, JSON.stringify(id)).toBe(3);
      expect(r.stderr).toContain("[bad-revision-id]");
      expect(r.stderr).not.toContain("\u001b");
      expect(brz(["uncommit", "-q", "--force"], craft).status).toBe(0);
    }
    expect(revno("devel")).toBe("3");
  });

  it("refuses ghosts on a governed branch: left-hand and merged", () => {
    const craft = join(root, "craft");
    for (const parents of [
      ["dev@example.com-ghost-left", "tip"],
      ["tip", "dev@example.com-ghost-right"],
    ]) {
      const c = py(["commit-parents", craft, `dev@example.com-ghosted-${parents[0]!.length}`, "with a ghost", ...parents]);
      expect(c.status, c.stderr).toBe(0);
      const r = brz(["push", "-q", url("devel")], craft);
      expect(r.status, parents.join(",")).toBe(3);
      expect(r.stderr).toContain("[renumbers]");
      expect(brz(["pull", "-q", "--overwrite", url("devel")], craft).status).toBe(0);
    }
    expect(revno("devel")).toBe("3");
  });

  it("refuses a foxtrot merge that would renumber devel", () => {
    const fox = join(root, "fox");
    expect(brz(["branch", "-q", "-r", "2", url("devel"), fox], root).status).toBe(0);
    commit(fox, "fox.txt", "side work");
    expect(brz(["merge", "-q", url("devel")], fox).status).toBe(0);
    expect(brz(["commit", "-q", "-m", "merge devel into my work"], fox).status).toBe(0);
    const r = brz(["push", "-q", url("devel")], fox);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("[renumbers]");
    expect(revno("devel")).toBe("3");
  });

  it("computes revnos itself: a client's set_last_revision_info(999, tip) is refused", () => {
    commit(join(root, "wt"), "d.txt", "fourth change");
    expect(brz(["push", "-q", url("scratch2")]).status).toBe(0);
    const tip = revid("scratch2");
    const r = py(["set-tip", url("devel"), tip, "999"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("[renumbers]");
    expect(revno("devel")).toBe("3");
    expect(py(["set-tip", url("devel"), tip, "4"]).status).toBe(0);
    expect(revno("devel")).toBe("4");
  });

  it("reads history only from the shared repository: a nested repository holding a forged revision changes nothing", () => {
    expect(prodgate(["qa", "ok", "r1"], { GL_USER: "quinn" }).status).toBe(0);
    expect(revno("production-stable")).toBe("1");
    expect(brz(["push", "-q", url("stable")]).status).toBe(0);
    const real = revid("stable");
    const fake = join(root, "fake");
    expect(run("brz", ["init", "-q", fake]).status).toBe(0);
    expect(py(["commit", fake, real, "[no-qa] harmless"]).status).toBe(0);
    expect(brz(["init-shared-repo", "-q", url("AAA")], root).status).toBe(0);
    expect(brz(["push", "-q", url("AAA/x")], fake).status).toBe(0);
    const sync = prodgate(["sync"]);
    expect(sync.status, sync.stderr).toBe(0);
    expect(revno("production-stable")).toBe("1");
    const status = JSON.parse(prodgate(["status", "--json"]).stdout);
    expect(status.branches.stable.revno).toBe(4);
  });

  it("waits on a lock held on a branch for a bounded time and says so in one line", async () => {
    const side = join(root, "side");
    expect(brz(["branch", "-q", url("devel"), side], root).status).toBe(0);
    commit(side, "side.txt", "side revision nobody tested");
    expect(brz(["merge", "-q", side]).status).toBe(0);
    expect(brz(["commit", "-q", "-m", "land the side work"]).status).toBe(0);
    expect(brz(["push", "-q", url("devel")]).status).toBe(0);
    expect(brz(["push", "-q", url("stable")]).status).toBe(0);
    const holder = spawn("/usr/bin/python3", ["-c", PY, "hold-lock", url("production-stable")], { env: env() });
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.on("data", (d: Buffer) => d.toString().includes("locked") && resolve());
      holder.once("exit", () => reject(new Error("the lock holder exited")));
    });
    const started = Date.now();
    const qa = prodgate(["qa", "ok", "r2", "r3", "r4", "r5"], { GL_USER: "quinn", PRODGATE_BZR_LOCK_WAIT: "1" });
    expect(Date.now() - started).toBeLessThan(30_000);
    const said = (qa.stdout + qa.stderr).split("\n").filter((l) => /locked/.test(l));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain("break-lock");
    expect(qa.stderr).not.toContain("internal error");
    expect(revno("production-stable")).toBe("1");
    const gone = new Promise((resolve) => holder.once("exit", resolve));
    holder.stdin!.end();
    await gone;
    const held = join(srv, "production-stable", ".bzr", "branch", "lock", "held");
    for (let i = 0; i < 100 && existsSync(held); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(held)).toBe(false);
  });

  it("refuses a side revision of an approved landing on production-stable", () => {
    const r = brz(["push", "-q", url("production-stable")], join(root, "side"));
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("[unapproved]");
    expect(revno("production-stable")).toBe("1");
  });

  it("serves bzr+ssh through a forced command: the key's user is the pusher, and the same gate applies", () => {
    const bin = join(root, "fakebin");
    mkdirSync(bin, { recursive: true });
    // what authorized_keys' command= does: whatever the client asks to run, it gets the gate
    writeFileSync(
      join(bin, "ssh"),
      `#!/bin/sh\nexec env GL_USER=alice ${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} --repo ${JSON.stringify(srv)} serve-bzr --inet\n`,
      { mode: 0o755 },
    );
    const ssh = { PATH: `${bin}:${process.env.PATH}`, BRZ_SSH: "openssh" };
    const viaSsh = (args: string[]) => run("brz", args, { cwd: join(root, "wt"), env: ssh });
    commit(join(root, "wt"), "ssh.txt", "pushed over ssh");
    const ok = viaSsh(["push", "-q", "bzr+ssh://bzr@example.invalid/devel"]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(audit()[0]).toMatchObject({ ref: "refs/heads/devel", decision: "accepted" });
    expect((JSON.parse(prodgate(["log", "--json"]).stdout) as { user: string }[])[0]!.user).toBe("alice");
    const pull = viaSsh(["pull", "-d", "bzr+ssh://bzr@example.invalid/production-stable", "bzr+ssh://bzr@example.invalid/devel"]);
    expect(pull.status).not.toBe(0);
    expect(revno("production-stable")).toBe("1");
  });

  it("keeps ungoverned branches working when the database is damaged, refuses governed changes, and will not start", () => {
    const db = `${srv}.prodgate/state.db`;
    renameSync(db, `${db}.saved`);
    writeFileSync(db, "not a database");
    try {
      commit(join(root, "wt"), "e.txt", "sixth change");
      const feature = brz(["push", "-q", url("feature2")]);
      expect(feature.status, feature.stderr).toBe(0);
      const devel = brz(["push", "-q", url("devel")]);
      expect(devel.status).toBe(3);
      expect(devel.stderr).toContain("[unavailable]");
      const start = run(process.execPath, [MAIN, "--repo", srv, "serve-bzr", "--inet"]);
      expect(start.status).not.toBe(0);
      expect(start.stderr).toContain("not serving");
    } finally {
      rmSync(db, { force: true });
      renameSync(`${db}.saved`, db);
    }
  });

  it("refuses every governed change while a governed branch does not use the shared repository, and doctor says which", () => {
    const reconf = run("brz", ["reconfigure", "--standalone", join(srv, "production-stable")]);
    expect(reconf.status, reconf.stderr).toBe(0);
    const r = brz(["push", "-q", url("devel")]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("[unavailable]");
    expect(r.stderr).toContain("production-stable");
    const doctor = prodgate(["doctor"]);
    expect(doctor.status).not.toBe(0);
    expect(doctor.stdout).toMatch(/production-stable.*shared repository/);
  });
});

describe.skipIf(!hasBrz)("moving prodgate's state out of the served tree", () => {
  it("refuses to serve while the state is inside, and install.sh --bzr moves it out", () => {
    const root = mkdtempSync(join(tmpdir(), "prodgate-bzr-legacy-"));
    try {
      const home = join(root, "home");
      mkdirSync(home);
      const env = cleanEnv(home, { BRZ_EMAIL: "Dev <dev@example.com>", BRZ_PLUGIN_PATH: undefined });
      const srv = join(root, "srv");
      const install = () => spawnSync("bash", [join(PROJECT, "install.sh"), "--bzr", srv], { env, encoding: "utf8" });
      expect(install().status).toBe(0);
      renameSync(`${srv}.prodgate`, join(srv, ".bzr", "prodgate"));
      const serve = spawnSync(process.execPath, [MAIN, "--repo", srv, "serve-bzr", "--inet"], { env, encoding: "utf8", input: "" });
      expect(serve.status).not.toBe(0);
      expect(serve.stderr).toContain("inside the served tree");
      const again = install();
      expect(again.status, again.stdout + again.stderr).toBe(0);
      expect(again.stdout).toContain("out of the served tree");
      expect(existsSync(join(srv, ".bzr", "prodgate"))).toBe(false);
      expect(existsSync(`${srv}.prodgate/state.db`)).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
