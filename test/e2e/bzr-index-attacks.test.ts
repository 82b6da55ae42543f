// The Bazaar revision index under attack: a developer with push access and no
// role, talking to `prodgate serve-bzr` with a plain brz and Breezy's smart
// verbs, must not make the index answer differently from Breezy, nor make
// someone else's push pay for reading the whole history again.
import { existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BzrServer, hasBrz, servedBzr } from "../helpers/bzr";

// Breezy's API for what brz will not do by itself: a revision whose merged
// parent is absent (a ghost), a revision with a chosen id, and a tip set
// with a revno of the client's choosing.
const PY = `
import sys, breezy
with breezy.initialize(setup_ui=False):
    import breezy.bzr
    from breezy.controldir import ControlDir
    from breezy.workingtree import WorkingTree
    cmd, where, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == "merge-ghost":
        wt = WorkingTree.open(where)
        wt.set_parent_ids([wt.last_revision(), args[0].encode()], allow_leftmost_as_ghost=True)
        wt.commit(message=args[1], allow_pointless=True)
    elif cmd == "commit-as":
        # a revision with a chosen id and chosen parents (absent ones allowed)
        wt = WorkingTree.open(where)
        wt.set_parent_ids([p.encode() for p in args[2:]], allow_leftmost_as_ghost=True)
        wt.commit(message=args[1], rev_id=args[0].encode(), allow_pointless=True)
    elif cmd == "set-tip":
        cd = ControlDir.open(where)
        c = cd._client
        path = cd._path_for_remote_call(c)
        path = path.encode() if isinstance(path, str) else path
        ok, tok, rtok = c.call(b"Branch.lock_write", path, b"", b"")
        try:
            c.call(b"Branch.set_last_revision_info", path, tok, rtok, args[0].encode(), args[1].encode())
            print("ok")
        except Exception as e:
            print(str(e).replace(chr(10), " "))
        finally:
            c.call(b"Branch.unlock", path, tok, rtok)
`;

// A row no Breezy revision has: a rebuild of the index from Breezy drops it, an index kept up to date keeps it.
const CANARY = "prodgate-test-canary";
const SQL = `
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
if sys.argv[2] == "plant":
    c.execute("INSERT OR IGNORE INTO bzr_revisions (id, parents, message, revno, gen) VALUES (?, '[]', '', 1, 1)", (sys.argv[3],))
    c.commit()
elif sys.argv[2] == "has":
    print(c.execute("SELECT count(*) FROM bzr_revisions WHERE id = ?", (sys.argv[3],)).fetchone()[0])
elif sys.argv[2] == "open-tips":
    # governed tips the index records without the revision, and revisions with a parent it neither holds nor knows as a ghost
    print(c.execute("SELECT count(*) FROM bzr_tips WHERE id NOT IN (SELECT id FROM bzr_revisions)").fetchone()[0])
    held = {r[0] for r in c.execute("SELECT id FROM bzr_revisions UNION SELECT id FROM bzr_ghosts")}
    import json
    print(sum(1 for (ps,) in c.execute("SELECT parents FROM bzr_revisions") for p in json.loads(ps) if p not in held))
elif sys.argv[2] == "tips":
    print(" ".join(r[0] for r in c.execute("SELECT branch FROM bzr_tips ORDER BY branch")))
elif sys.argv[2] == "dump":
    for table in ("bzr_revisions", "bzr_ghosts", "bzr_tips"):
        for row in c.execute("SELECT * FROM %s ORDER BY 1" % table):
            print(table, row)
elif sys.argv[2] == "forget":
    c.executescript("DELETE FROM bzr_revisions; DELETE FROM bzr_ghosts; DELETE FROM bzr_tips;")
`;

// The engine's node: while the flag file exists, the first change told to the engine after it landed
// kills serve-bzr and everything it started (kill -9 of its process group), before anything is recorded.
const KILLING_NODE = `#!/bin/bash
if [ ! -e "$PRODGATE_TEST_KILL" ]; then exec ${JSON.stringify(process.execPath)} "$@"; fi
group=$(ps -o pgid= -p $$ | tr -d ' ')
while IFS= read -r line; do
  case "$line" in
    *'"stage": "post-change"'*|*'"stage":"post-change"'*) rm -f "$PRODGATE_TEST_KILL"; kill -9 -- "-$group" ;;
  esac
  printf '%s\\n' "$line"
done | ${JSON.stringify(process.execPath)} "$@"
`;

describe.skipIf(!hasBrz)("the Bazaar revision index under attack (skipped where brz is absent: run .ci/deps-bzr.sh)", () => {
  let s: BzrServer;
  let root: string;
  const py = (args: string[]) => s.run("/usr/bin/python3", ["-c", PY, ...args]);
  const sql = (args: string[]) => s.run("/usr/bin/python3", ["-c", SQL, join(`${s.srv}.prodgate`, "state.db"), ...args]);
  const plantCanary = () => expect(sql(["plant", CANARY]).status).toBe(0);
  const rebuiltSinceCanary = () => sql(["has", CANARY]).stdout.trim() === "0";
  const cfg = () => `${s.srv}.prodgate/config`;
  /** A branch of `from` at <root>/<name>, with one more commit. */
  const work = (name: string, from: string, message: string): string => {
    const dir = join(root, name);
    expect(s.brz(["branch", "-q", s.url(from), dir], root).status).toBe(0);
    s.commit(`${name}.txt`, message, dir);
    return dir;
  };
  /** An honest push to devel, from the client's branch. */
  const honestPush = (message: string) => {
    expect(s.brz(["pull", "-q", "--overwrite", s.url("devel")]).status).toBe(0);
    s.commit(`${message.replaceAll(" ", "-")}.txt`, message);
    const r = s.brz(["push", "-q", s.url("devel")]);
    expect(r.status, r.stderr).toBe(0);
  };

  beforeAll(async () => {
    s = await servedBzr("bzr-index");
    root = s.root;
    s.commit("a.txt", "first change");
    s.commit("b.txt", "second change");
    expect(s.brz(["push", "-q", s.url("devel")]).status).toBe(0);
    // release-1 exists before prodgate governs it (clients cannot create a governed branch).
    expect(s.brz(["push", "-q", s.url("release-1")]).status).toBe(0);
    expect(s.run("git", ["config", "--file", cfg(), "--add", "prodgate.governed", "refs/heads/release-*"]).status).toBe(0);
  });

  afterAll(() => s?.cleanup());

  it("refuses a tip set on any governed branch with a revno that is not prodgate's, so no push can force a rebuild of the index", () => {
    const side = work("claim", "release-1", "work for release-1");
    expect(s.brz(["push", "-q", s.url("scratch-claim")], side).status).toBe(0);
    const id = s.revid("scratch-claim");
    const before = s.revid("release-1");
    // The right revno is 3: a client that says 99 makes the branch state 99.
    const r = py(["set-tip", s.url("release-1"), "99", id]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("[renumbers]");
    expect(s.revid("release-1")).toBe(before);
    plantCanary();
    honestPush("after a revno claim");
    expect(rebuiltSinceCanary()).toBe(false);
  });

  it("refuses a ghost on any governed branch: filling it later would make the next push rebuild the whole index", () => {
    const side = join(root, "ghostly");
    expect(s.brz(["branch", "-q", s.url("release-1"), side], root).status).toBe(0);
    const c = py(["merge-ghost", side, "ghost-for-release", "merges a revision nobody has"]);
    expect(c.status, c.stderr).toBe(0);
    const before = s.revid("release-1");
    const r = s.brz(["push", "-q", s.url("release-1")], side);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain("[renumbers]");
    expect(s.revid("release-1")).toBe(before);
  });
  it("keeps no half change when serve-bzr is killed (-9) after a change landed and before it was recorded", async () => {
    const node = join(root, "killing-node");
    const flag = join(root, "kill-at-post-change");
    writeFileSync(node, KILLING_NODE, { mode: 0o755 });
    writeFileSync(flag, "");
    s.stopServing();
    await s.serve({ PRODGATE_NODE: node, PRODGATE_TEST_KILL: flag });
    expect(s.brz(["pull", "-q", "--overwrite", s.url("devel")]).status).toBe(0);
    s.commit("killed.txt", "landed while the server died");
    const landed = s.brz(["revision-info"]).stdout.trim().split(" ")[1]!;
    expect(s.brz(["push", "-q", s.url("devel")]).status).not.toBe(0);
    expect(existsSync(flag)).toBe(false);
    s.stopServing();
    // The dead server's locks stay on disk (Breezy takes them over only for the same identity): the admin breaks them.
    for (const dir of [join(s.srv, "devel"), s.srv]) s.brz(["break-lock", "--force", dir], root);
    await s.serve();
    // The change landed (Breezy wrote the tip before the hook that records it ran), unrecorded.
    expect(s.revid("devel")).toBe(landed);
    expect(sql(["open-tips"]).stdout.trim().split("\n")).toEqual(["0", "0"]);
    honestPush("after the server died");
    const status = JSON.parse(s.prodgate(["status", "--json"]).stdout) as { branches: Record<string, { revno: number; sha: string }> };
    expect(status.branches.devel).toMatchObject({ revno: Number(s.revno("devel")), sha: s.revid("devel") });
    expect(sql(["open-tips"]).stdout.trim().split("\n")).toEqual(["0", "0"]);
    const explained = s.prodgate(["explain", landed]).stdout;
    expect(explained).toContain("landed while the server died");
    expect(sql(["forget"]).status).toBe(0);
    expect(s.prodgate(["explain", landed]).stdout).toBe(explained);
  });

  it("forgets the tip of a branch no longer governed, rather than count it as changed at every read", () => {
    expect(s.prodgate(["status"]).status).toBe(0);
    expect(sql(["tips"]).stdout).toContain("release-1");
    expect(s.run("git", ["config", "--file", cfg(), "--unset-all", "prodgate.governed"]).status).toBe(0);
    try {
      expect(s.prodgate(["status"]).status).toBe(0);
      expect(sql(["tips"]).stdout).not.toContain("release-1");
    } finally {
      expect(s.run("git", ["config", "--file", cfg(), "--add", "prodgate.governed", "refs/heads/release-*"]).status).toBe(0);
    }
  });

  it("fills the same index when install.sh --bzr runs again on a served repository", () => {
    expect(s.prodgate(["status"]).status).toBe(0);
    const before = sql(["dump"]).stdout;
    expect(before).toContain("bzr_tips ('devel'");
    s.install();
    expect(sql(["dump"]).stdout).toBe(before);
    honestPush("after installing again");
  });

  it("answers status, qa pending and explain from the index as from an index rebuilt from Breezy", () => {
    // A landing merged into devel, and stable and a verdict, so the answers cover merges and the mainline.
    const side = work("landing", "devel", "landing part one");
    s.commit("landing-2.txt", "landing part two", side);
    expect(s.brz(["pull", "-q", "--overwrite", s.url("devel")]).status).toBe(0);
    expect(s.brz(["merge", "-q", side]).status).toBe(0);
    expect(s.brz(["commit", "-q", "-m", "[r=rev] land the landing"]).status).toBe(0);
    expect(s.brz(["push", "-q", s.url("devel")]).status).toBe(0);
    expect(s.brz(["push", "-q", s.url("stable")]).status).toBe(0);
    expect(s.prodgate(["qa", "ok", "r2"], { GL_USER: "quinn" }).status).toBe(0);
    const answers = () => {
      const status = JSON.parse(s.prodgate(["status", "--json"]).stdout) as Record<string, unknown>;
      delete status.generatedAt;
      const revnos = Number(s.revno("stable"));
      const explained = Array.from({ length: revnos }, (_, i) => s.prodgate(["explain", `r${i + 1}`]).stdout);
      return {
        status,
        pending: s.prodgate(["qa", "pending", "--json"]).stdout,
        explained,
        stable: s.prodgate(["explain", "stable"]).stdout,
      };
    };
    const before = answers();
    expect(before.explained.length).toBeGreaterThanOrEqual(3);
    expect(sql(["forget"]).status).toBe(0);
    expect(answers()).toEqual(before);
  });

  // A ghost already in the governed history (from before prodgate, or an admin's push around the server),
  // filled by a developer through a branch nobody governs, with a revision whose own parent is a new ghost,
  // and so on: each fill changed the revnos and generations after it, and made the next push (inside the tip
  // lock) read the whole history from Breezy again. The server now stores no revision that fills one.
  it("refuses to store a revision that fills a ghost of the governed history, so no fill makes a push read the whole history", () => {
    // The admin's push around the server: devel merges a revision the repository does not hold.
    const adm = work("legacy", "devel", "before the legacy merge");
    expect(py(["merge-ghost", adm, "legacy-ghost-1", "a legacy merge of a ghost"]).status).toBe(0);
    expect(s.brz(["push", "-q", join(s.srv, "devel")], adm).status).toBe(0);
    honestPush("after the legacy merge");
    // A developer fills the ghost with a revision whose parent is a new ghost, on a branch nobody governs.
    const fill = join(root, "fill");
    expect(s.brz(["init", "-q", fill], root).status).toBe(0);
    const c = py(["commit-as", fill, "legacy-ghost-1", "fills the ghost", "legacy-ghost-2"]);
    expect(c.status, c.stderr).toBe(0);
    const r = s.brz(["push", "-q", s.url("scratch-fill")], fill);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("names it as a ghost");
    plantCanary();
    honestPush("after the refused fill");
    expect(rebuiltSinceCanary()).toBe(false);
  });

  // A ghost of the governed history filled by a developer would be "on devel" to Breezy, so stable would take
  // it though no push to devel ever brought it.
  it("takes onto stable only revisions a push brought to devel: a revision filling a ghost of devel's history is not stored", () => {
    if (s.revno("stable") === "0") expect(s.brz(["push", "-q", "-r", "1", s.url("stable")]).status).toBe(0);
    const adm = work("legacy-x", "devel", "before another legacy merge");
    expect(py(["merge-ghost", adm, "legacy-ghost-x", "another legacy merge of a ghost"]).status).toBe(0);
    expect(s.brz(["push", "-q", join(s.srv, "devel")], adm).status).toBe(0);
    // The index learns of the ghost at its next read (any push or command), as install.sh --bzr learns of old ones.
    expect(s.prodgate(["status"]).status).toBe(0);
    const evil = join(root, "evil");
    expect(s.brz(["branch", "-q", s.url("stable"), evil], root).status).toBe(0);
    const c = py(["commit-as", evil, "legacy-ghost-x", "unreviewed work, never pushed to devel", s.revid("stable")]);
    expect(c.status, c.stderr).toBe(0);
    const before = s.revid("stable");
    for (const branch of ["scratch-evil", "stable"]) {
      const r = s.brz(["push", "-q", s.url(branch)], evil);
      expect(r.status, branch).not.toBe(0);
      expect(r.stderr, branch).toContain("names it as a ghost");
    }
    expect(s.revid("stable")).toBe(before);
  });

  // The same, with no read of the index in between: the server learns of the admin's new ghost when the fill comes.
  it("refuses to store a fill of a ghost an admin's change around the server brought, before anything read the index again", () => {
    if (s.revno("stable") === "0") expect(s.brz(["push", "-q", "-r", "1", s.url("stable")]).status).toBe(0);
    const adm = work("legacy-y", "devel", "before a fresh legacy merge");
    expect(py(["merge-ghost", adm, "legacy-ghost-y", "a legacy merge nothing has read yet"]).status).toBe(0);
    expect(s.brz(["push", "-q", join(s.srv, "devel")], adm).status).toBe(0);
    const evil = join(root, "evil-y");
    expect(s.brz(["branch", "-q", s.url("stable"), evil], root).status).toBe(0);
    const c = py(["commit-as", evil, "legacy-ghost-y", "unreviewed work, never pushed to devel", s.revid("stable")]);
    expect(c.status, c.stderr).toBe(0);
    const before = s.revid("stable");
    for (const branch of ["scratch-evil-y", "stable"]) {
      const r = s.brz(["push", "-q", s.url(branch)], evil);
      expect(r.status, branch).not.toBe(0);
      expect(r.stderr, branch).toContain("names it as a ghost");
    }
    expect(s.revid("stable")).toBe(before);
    honestPush("after the fill of a fresh ghost");
  });
});

describe.skipIf(!hasBrz)("the Bazaar ghost guard, rewinds and dead locks around the server (skipped where brz is absent)", () => {
  let s: BzrServer;
  const py = (args: string[]) => s.run("/usr/bin/python3", ["-c", PY, ...args]);
  const db = () => join(`${s.srv}.prodgate`, "state.db");

  beforeAll(async () => {
    s = await servedBzr("bzr-guard");
    s.commit("a.txt", "first change");
    expect(s.brz(["push", "-q", s.url("devel")]).status).toBe(0);
    expect(s.brz(["push", "-q", s.url("stable")]).status).toBe(0);
    expect(s.prodgate(["qa", "ok", "r1"], { GL_USER: "quinn" }).status).toBe(0);
  });

  afterAll(() => s?.cleanup());

  // The index keeps revisions an admin rewound away around the server (they are facts about revisions, not
  // about branches); every answer about a branch walks from the tip Breezy states, so none counts them.
  it("counts a revision rewound away around the server as on no branch: status, qa pending, explain and qa", () => {
    expect(s.brz(["pull", "-q", "--overwrite", s.url("devel")]).status).toBe(0);
    s.commit("later.txt", "rewound away later");
    expect(s.brz(["push", "-q", s.url("devel")]).status).toBe(0);
    expect(s.brz(["push", "-q", s.url("stable")]).status).toBe(0);
    const gone = s.revid("stable");
    const revno = Number(s.revno("stable"));
    expect(s.prodgate(["qa", "ok", `r${revno}`], { GL_USER: "quinn" }).status).toBe(0);
    expect(s.revid("production-stable")).toBe(gone);
    // The admin rewinds every branch holding it, on the server, with brz and no hook.
    for (const branch of ["production-stable", "production-devel", "stable", "devel"]) {
      if (s.brz(["revision-info", "-d", join(s.srv, branch)], s.root).stdout.includes(gone))
        expect(s.brz(["uncommit", "-q", "--force", join(s.srv, branch)], s.root).status).toBe(0);
    }
    const status = JSON.parse(s.prodgate(["status", "--json"]).stdout) as {
      branches: Record<string, { sha: string; revno: number } | null>;
      deployable: { sha: string } | null;
      pending: { sha: string }[];
    };
    for (const branch of ["devel", "stable", "production-stable"]) {
      expect(status.branches[branch]?.sha, branch).not.toBe(gone);
      expect(status.branches[branch]?.revno, branch).toBe(revno - 1);
    }
    expect(status.deployable?.sha).not.toBe(gone);
    expect(status.pending.map((p) => p.sha)).not.toContain(gone);
    expect(s.prodgate(["qa", "pending", "--json"]).stdout).not.toContain(gone);
    const explained = JSON.parse(s.prodgate(["explain", gone, "--json"]).stdout) as Record<string, unknown>;
    expect(explained).toMatchObject({ onStable: false, inProduction: false, deployable: false });
    // A verdict needs a mainline revision of stable: the rewound-away one is none.
    expect(s.prodgate(["qa", "ok", gone], { GL_USER: "quinn" }).status).not.toBe(0);
  });

  // A mirror killed after it moved production-stable is finished by the next run, which tells the move
  // with the revisions it brought, read from the Bazaar history as git's are from git.
  it("finishes a mirror run killed after it moved production-stable, on the next sync", () => {
    expect(s.brz(["pull", "-q", "--overwrite", s.url("devel")]).status).toBe(0);
    s.commit("mirrored.txt", "mirrored by a run that was killed");
    expect(s.brz(["push", "-q", s.url("devel")]).status).toBe(0);
    expect(s.brz(["push", "-q", s.url("stable")]).status).toBe(0);
    const target = s.revid("stable");
    const killed = s.prodgate(["qa", "ok", target], { GL_USER: "quinn", PRODGATE_FAULT: "after-update-ref" });
    expect(killed.status).not.toBe(0);
    expect(s.revid("production-stable")).toBe(target);
    const sync = s.prodgate(["sync"]);
    expect(sync.status, sync.stdout + sync.stderr).toBe(0);
    const log = JSON.parse(s.prodgate(["log", "--ref", "production-stable", "--json"]).stdout) as { new: string; reason: string }[];
    expect(log.some((e) => e.new === target && e.reason.startsWith("recovered: an interrupted mirror had moved"))).toBe(true);
    expect(s.prodgate(["events"]).stdout).toContain("production-stable.moved");
  });

  // serve-bzr killed (-9) holding a lock, or an admin's brz killed on the server, leaves Breezy's lock on disk.
  // Breezy takes a dead holder's lock over only for the same Breezy identity on the same machine; any other
  // waits on it for good, and the client reads only "Could not acquire lock". doctor names it and the remedy.
  it("doctor names a lock whose holder no longer runs, and how to break it", () => {
    const lock = `
import breezy, os, sys
with breezy.initialize(setup_ui=False):
    import breezy.bzr
    from breezy.branch import Branch
    Branch.open(sys.argv[1]).lock_write()
    os._exit(0)
`;
    const devel = join(s.srv, "devel");
    expect(s.run("/usr/bin/python3", ["-c", lock, devel], { env: { BRZ_EMAIL: "Admin <admin@example.com>" } }).status).toBe(0);
    expect(s.brz(["pull", "-q", "--overwrite", s.url("devel")]).status).toBe(0);
    s.commit("locked.txt", "pushed while devel is locked");
    const push = s.brz(["push", "-q", s.url("devel")]);
    expect(push.status).not.toBe(0);
    expect(push.stderr).toContain("Could not acquire lock");
    const doctor = s.prodgate(["doctor"]);
    expect(doctor.status).toBe(1);
    const line = doctor.stdout.split("\n").find((l) => l.includes("no longer runs"));
    expect(line).toContain(`${devel} is locked by a process that no longer runs (held by Admin <admin@example.com>`);
    expect(line).toContain(`run brz break-lock --force ${devel}`);
    expect(s.brz(["break-lock", "--force", devel], s.root).status).toBe(0);
    expect(s.prodgate(["doctor"]).status).toBe(0);
    expect(s.brz(["push", "-q", s.url("devel")]).status).toBe(0);
  });

  // The guard never makes a push prodgate does not govern depend on prodgate's database: while it cannot be
  // read, Breezy is asked for the governed history's ghosts. A fill stored meanwhile would be on devel to
  // Breezy once the database is back, and stable would take it though no push to devel brought it.
  it("refuses a ghost fill while the database cannot be read, and a governed tip change fails closed meanwhile", () => {
    const adm = join(s.root, "adm");
    expect(s.brz(["branch", "-q", s.url("devel"), adm], s.root).status).toBe(0);
    expect(py(["merge-ghost", adm, "outage-ghost", "a legacy merge of a ghost"]).status).toBe(0);
    expect(s.brz(["push", "-q", join(s.srv, "devel")], adm).status).toBe(0);
    expect(s.prodgate(["status"]).status).toBe(0);
    const evil = join(s.root, "evil");
    expect(s.brz(["branch", "-q", s.url("stable"), evil], s.root).status).toBe(0);
    const c = py(["commit-as", evil, "outage-ghost", "unreviewed work, never pushed to devel", s.revid("stable")]);
    expect(c.status, c.stderr).toBe(0);
    const stable = s.revid("stable");

    renameSync(db(), `${db()}.saved`);
    writeFileSync(db(), "this is not a database\n");
    try {
      const fill = s.brz(["push", "-q", s.url("scratch-outage")], evil);
      expect(fill.status).not.toBe(0);
      expect(fill.stderr).toContain("names it as a ghost");
      // An honest change of a governed branch fails closed while the database is unreadable.
      s.commit("honest.txt", "honest work during the outage", adm);
      const honest = s.brz(["push", "-q", s.url("devel")], adm);
      expect(honest.status).toBe(3);
      expect(honest.stderr).toContain("[unavailable]");
    } finally {
      rmSync(db());
      renameSync(`${db()}.saved`, db());
    }
    const r = s.brz(["push", "-q", s.url("stable")], evil);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("names it as a ghost");
    expect(s.revid("stable")).toBe(stable);
  });
});
