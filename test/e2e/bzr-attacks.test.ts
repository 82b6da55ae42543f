// A developer with push access and no role, talking Breezy's smart protocol
// to `prodgate serve-bzr` directly (Breezy's API, for what brz will not do by
// itself): branch locks and their tokens must not let them move a governed
// branch unjudged nor stop everyone else's pushes.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BzrServer, hasBrz, servedBzr, waitFor } from "../helpers/bzr";

// Raw smart verbs. `race` locks a branch on one connection and hands the token
// to a second: both then move the tip at once, each from the tip it read.
const PY = `
import os, sys, threading, breezy
with breezy.initialize(setup_ui=False):
    import breezy.bzr
    from breezy.controldir import ControlDir
    cmd, url, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    base, path = url.rsplit("/", 1)
    client = lambda: ControlDir.open(url)._client
    if cmd == "race":
        a, b = client(), client()
        ok, tok, rtok = a.call(b"Branch.lock_write", path.encode(), b"", b"")
        out = {}
        def move(c, rev):
            try:
                c.call(b"Branch.set_last_revision_info", path.encode(), tok, rtok, args[2].encode(), rev.encode())
                out[rev] = "ok"
            except Exception as e:
                out[rev] = str(e)
        threads = [threading.Thread(target=move, args=(c, r)) for c, r in ((a, args[0]), (b, args[1]))]
        for t in threads: t.start()
        for t in threads: t.join()
        a.call(b"Branch.unlock", path.encode(), tok, rtok)
        for rev in args[:2]: print(rev, out[rev].replace(chr(10), " "))
    elif cmd == "commit":
        from breezy.workingtree import WorkingTree
        WorkingTree.open(url).commit(message=args[1], rev_id=args[0].encode(), allow_pointless=True)
    elif cmd == "break-through-bound":
        # bind an ungoverned branch to a governed one (the jail's URL is in any error), then break its lock
        import re
        c, holder = client(), ControlDir.open(base + "/" + args[1])._client
        try:
            c.call(b"Branch.get_parent", b"no-such-branch")
        except Exception as e:
            jail = re.search(r"([a-z]+-[0-9]+:///)", str(e)).group(1).encode()
        ok, tok, rtok = c.call(b"Branch.lock_write", path.encode(), b"", b"")
        c.call(b"Branch.set_config_option", path.encode(), tok, rtok, jail + args[0].encode() + b"/", b"bound_location", b"")
        c.call(b"Branch.set_config_option", path.encode(), tok, rtok, b"True", b"bound", b"")
        c.call(b"Branch.unlock", path.encode(), tok, rtok)
        holder.call(b"Branch.lock_write", args[0].encode(), b"", b"")
        try:
            c.call(b"Branch.break_lock", path.encode())
            print("broke it")
        except Exception as e:
            print(str(e).replace(chr(10), " "))
        print("held" if os.path.exists(args[2]) else "released")
    elif cmd == "leave-lock":
        client().call(b"Branch.lock_write", path.encode(), b"", b"")
        os._exit(0)  # no unlock
`;

// git, first on the server's PATH: while <gate>/on exists, the first caller
// waits (at most 3 s) for a second one to arrive. Two tip changes judged at
// the same time meet here; serialised ones cannot, and the first goes on alone.
const RENDEZVOUS = `#!/bin/sh
d="$PRODGATE_TEST_GATE"
if [ -n "$d" ] && [ -e "$d/on" ]; then
  if mkdir "$d/first" 2>/dev/null; then
    i=0
    while [ ! -e "$d/second" ] && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
    rm -f "$d/on"
  else
    : > "$d/second"
  fi
fi
exec /usr/bin/git "$@"
`;

describe.skipIf(!hasBrz)("branch locks through the Bazaar server (skipped where brz is absent: run .ci/deps-bzr.sh)", () => {
  let s: BzrServer;
  let root: string;
  let srv: string;
  let gate: string;
  const url = (branch: string) => s.url(branch);
  const run = (cmd: string, args: string[], cwd = root) => s.run(cmd, args, { cwd });
  const brz = (args: string[], cwd = join(root, "wt")) => s.brz(args, cwd);
  const py = (args: string[]) => run("/usr/bin/python3", ["-c", PY, ...args]);
  const revid = (branch: string) => s.revid(branch);
  const commit = (dir: string, file: string, message: string) => s.commit(file, message, dir);

  beforeAll(async () => {
    s = await servedBzr("bzr-attacks", (t) => {
      gate = join(t.root, "gate");
      mkdirSync(gate);
      const bin = join(t.root, "bin");
      mkdirSync(bin);
      writeFileSync(join(bin, "git"), RENDEZVOUS, { mode: 0o755 });
      return { PATH: `${bin}:${process.env.PATH}`, PRODGATE_TEST_GATE: gate };
    });
    ({ root, srv } = s);
    commit(join(root, "wt"), "a.txt", "first change");
    expect(brz(["push", "-q", url("devel")]).status).toBe(0);
  });

  afterAll(() => s?.cleanup());

  it("judges one tip change at a time: a lock token shared by two connections cannot make devel lose a revision", () => {
    const other = join(root, "other");
    expect(brz(["branch", "-q", url("devel"), other], root).status).toBe(0);
    commit(other, "z.txt", "other work");
    expect(brz(["push", "-q", url("scratch-z")], other).status).toBe(0);
    commit(join(root, "wt"), "y.txt", "my work");
    expect(brz(["push", "-q", url("scratch-y")]).status).toBe(0);
    const [y, z] = [revid("scratch-y"), revid("scratch-z")];
    writeFileSync(join(gate, "on"), "");
    const r = py(["race", url("devel"), y, z, "2"]);
    expect(r.status, r.stderr).toBe(0);
    const answers = r.stdout.trim().split("\n");
    expect(
      answers.filter((l) => l.endsWith(" ok")),
      r.stdout,
    ).toHaveLength(1);
    expect(
      answers.filter((l) => l.includes("[non-fast-forward]")),
      r.stdout,
    ).toHaveLength(1);
    const landed = answers.find((l) => l.endsWith(" ok"))!.split(" ")[0];
    expect(revid("devel")).toBe(landed);
  });

  it("releases a branch lock when the connection that took it ends, so a left lock stops no one", async () => {
    expect(py(["leave-lock", url("devel")]).status).toBe(0);
    const held = join(srv, "devel", ".bzr", "branch", "lock", "held");
    await waitFor("the left lock to be released", () => !existsSync(held), 100);
    const base = join(root, "base");
    expect(brz(["branch", "-q", url("devel"), base], root).status).toBe(0);
    commit(base, "b.txt", "after the left lock");
    const push = brz(["push", "-q", url("devel")], base);
    expect(push.status, push.stderr).toBe(0);
  });

  it("refuses a revision id spelled like a range, which qa ok would read as A..B", () => {
    const craft = join(root, "craft");
    expect(brz(["branch", "-q", url("devel"), craft], root).status).toBe(0);
    const c = py(["commit", craft, "r1..devel", "an id spelled like a range"]);
    expect(c.status, c.stderr).toBe(0);
    const before = revid("devel");
    const r = brz(["push", "-q", url("devel")], craft);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("[bad-revision-id]");
    expect(revid("devel")).toBe(before);
  });

  it("refuses break-lock from clients: an ungoverned branch bound to production-stable cannot break its lock", () => {
    expect(brz(["push", "-q", url("bound-scratch")]).status).toBe(0);
    const held = join(srv, "production-stable", ".bzr", "branch", "lock", "held");
    const r = py(["break-through-bound", url("bound-scratch"), "production-stable", "devel", held]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("prodgate refused Branch.break_lock");
    expect(r.stdout.trim().split("\n").pop()).toBe("held");
  });

  it("rewrites the published page after qa, freeze and thaw on a Bazaar repository, with no error line", () => {
    const page = join(root, "report.html");
    expect(run("git", ["config", "--file", `${srv}.prodgate/config`, "prodgate.reportPath", page]).status).toBe(0);
    const prodgate = (args: string[], user: string) => s.prodgate(args, { GL_USER: user });
    expect(prodgate(["role", "add", "admin", "ada"], "").status).toBe(0);
    expect(brz(["push", "-q", url("stable")]).status).toBe(0);
    for (const [args, user] of [
      [["freeze", "--reason", "release checks"], "ada"],
      [["qa", "pending"], "quinn"],
      [["qa", "ok", "r1"], "quinn"],
      [["thaw"], "ada"],
    ] as const) {
      const r = prodgate([...args], user);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr, args.join(" ")).not.toContain("not rewritten");
      expect(existsSync(page)).toBe(true);
      rmSync(page);
    }
  });

  it("governs a branch exactly as the engine reads prodgate.governed: refs/*/release-* guards release-1 too", () => {
    const rel = join(root, "rel");
    expect(brz(["branch", "-q", url("devel"), rel], root).status).toBe(0);
    commit(rel, "r.txt", "release work");
    expect(brz(["push", "-q", url("release-1")], rel).status).toBe(0);
    const cfg = `${srv}.prodgate/config`;
    expect(run("git", ["config", "--file", cfg, "--add", "prodgate.governed", "refs/*/release-*"]).status).toBe(0);
    try {
      const back = brz(["uncommit", "--force", url("release-1")]);
      expect(back.status, back.stderr).toBe(3);
      expect(back.stderr, back.stderr).toContain("[non-fast-forward]");
      const rm = brz(["rmbranch", url("release-1")]);
      expect(rm.status).not.toBe(0);
      expect(rm.stderr).toContain("release-1 is governed by prodgate");
    } finally {
      run("git", ["config", "--file", cfg, "--unset-all", "prodgate.governed"]);
    }
  });
});
