"""A seeded random walk against a repository served by `prodgate serve-bzr`.

    python3 bzr/fuzz_bzr.py [--seed N] [--steps M] [--keep]
    (npm run fuzz:bzr -- --seed N --steps M)

A client with no role, using Breezy's API over bzr://, pushes, overwrites,
uncommits, pulls into remote branches, sets revnos, commits ghosts and
foxtrot merges, calls file-level verbs, removes, reconfigures and stacks
branches; QA approves now and then. After every step the served repository is
read directly and these must hold, or the run stops with the seed and step:

- every governed branch opens from the shared repository, unstacked;
- its stored revno is the length of its left-hand history;
- a governed branch's tip changed only with an accepted audit row (or a mirror
  run) naming the new tip;
- devel, stable and production-stable never lose their old tip from their
  left-hand history (no rewind, no renumbering);
- production-stable is on stable's mainline;
- nothing of prodgate's is inside the served tree, nothing is planted inside
  a control directory, and the server still answers.
"""

import argparse
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
GOVERNED = ("devel", "stable", "production-stable", "production-devel")
ORDERED = ("devel", "stable", "production-stable")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc):
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit("serve-bzr exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("serve-bzr never listened")


class Fuzz:
    def __init__(self, seed, root):
        self.rng = random.Random(seed)
        self.root = root
        self.srv = os.path.join(root, "srv")
        self.env = dict(os.environ, HOME=os.path.join(root, "home"), BRZ_EMAIL="Dev <dev@example.com>")
        for k in list(self.env):
            if k.startswith("PRODGATE_") or k in ("GL_USER", "BRZ_PLUGIN_PATH", "BRZ_DISABLE_PLUGINS"):
                del self.env[k]
        self.node = os.environ.get("PRODGATE_NODE") or "node"
        self.main = os.path.join(PROJECT, "dist", "prodgate.cjs")
        self.counter = 0
        self.tips = {}
        self.steps_done = {}

    # -- setup -------------------------------------------------------------
    def prodgate(self, *args, user=None):
        env = dict(self.env, GL_USER=user) if user else self.env
        return subprocess.run([self.node, self.main, "--repo", self.srv, *args], env=env, capture_output=True, text=True)

    def start(self):
        r = subprocess.run(["bash", os.path.join(PROJECT, "install.sh"), "--bzr", self.srv], env=self.env, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("install.sh --bzr failed:\n" + r.stdout + r.stderr)
        self.prodgate("role", "add", "qa", "quinn")
        self.port = free_port()
        self.server = subprocess.Popen(
            [self.node, self.main, "--repo", self.srv, "serve-bzr", "--listen", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_port(self.port, self.server)
        from breezy.bzr.bzrdir import BzrDir

        self.work_path = os.path.join(self.root, "work")
        self.work = BzrDir.create_standalone_workingtree(self.work_path)
        self.commit("first")
        for b in ("devel", "stable"):
            self.push(self.work.branch, b)
        self.tips = self.read_tips()

    def stop(self):
        if self.server.poll() is None:
            os.killpg(self.server.pid, 15)
            self.server.wait()

    def url(self, rel):
        return "bzr://127.0.0.1:%d/%s" % (self.port, rel)

    # -- client actions ----------------------------------------------------
    def remote(self, rel):
        from breezy.branch import Branch

        return Branch.open(self.url(rel))

    def commit(self, message, tree=None, name=None, **kw):
        tree = tree or self.work
        self.counter += 1
        name = name or "f%d.txt" % self.rng.randrange(5)
        with open(os.path.join(tree.basedir, name), "a") as f:
            f.write("%s %d\n" % (message, self.counter))
        if not tree.is_versioned(name):
            tree.add([name])
        from breezy.commit import NullCommitReporter

        return tree.commit(message=message, reporter=NullCommitReporter(), **kw)

    def push(self, branch, rel, overwrite=False):
        from breezy import errors

        try:
            target = self.remote(rel)
        except errors.NotBranchError:
            # `brz push` creates the branch with one smart verb, no file access
            subprocess.run(["brz", "push", "-q", "-d", branch.base, self.url(rel)], env=self.env, capture_output=True)
            return
        branch.push(target, overwrite=overwrite)

    def step(self):
        from breezy.branch import Branch
        from breezy.transport import get_transport

        kind = self.rng.choice(
            ["commit"] * 4
            + ["push"] * 5
            + ["overwrite", "uncommit", "set-revno", "pull-into", "vfs", "structure", "qa", "qa", "foxtrot"]
            + ["ungoverned", "reset-work", "ghost", "odd-id", "lock"]
        )
        self.steps_done[kind] = self.steps_done.get(kind, 0) + 1
        rel = self.rng.choice(("devel",) * 5 + ("stable",) * 3 + ("production-stable",) * 2 + ("production-devel",))
        try:
            if kind == "commit":
                self.commit("work [no-qa]" if self.rng.random() < 0.3 else "work")
            elif kind == "push":
                self.push(self.work.branch, rel)
            elif kind == "overwrite":
                self.push(self.work.branch, rel, overwrite=True)
            elif kind == "uncommit":
                b = self.remote(rel)
                with b.lock_write():
                    revno, tip = b.last_revision_info()
                    if revno > 0:
                        parents = b.repository.get_parent_map([tip]).get(tip) or (b"null:",)
                        b.set_last_revision_info(revno - 1, parents[0])
            elif kind == "set-revno":
                self.push(self.work.branch, "scratch", overwrite=True)
                b = self.remote(rel)
                with b.lock_write():
                    b.set_last_revision_info(self.rng.choice([1, 7, 999]), self.work.branch.last_revision())
            elif kind == "pull-into":
                self.remote(rel).pull(self.remote(self.rng.choice(GOVERNED + ("scratch",))), overwrite=self.rng.random() < 0.5)
            elif kind == "vfs":
                t = get_transport(self.url(""))
                path = self.rng.choice(
                    ["%s/.bzr/branch/last-revision" % rel, ".bzr/repository/lock/held/info", "%s/.bzr/branch/branch.conf" % rel]
                )
                if self.rng.random() < 0.5:
                    t.put_bytes(path, b"0 null:\n")
                else:
                    t.get_bytes(path)
            elif kind == "structure":
                from breezy.controldir import ControlDir

                cd = ControlDir.open(self.url(rel))
                action = self.rng.choice(["rmbranch", "repo", "stack", "config", "break-lock", "plant"])
                if action == "rmbranch":
                    cd.destroy_branch()
                elif action == "repo":
                    cd.create_repository()
                elif action == "stack":
                    self.remote(rel).set_stacked_on_url(self.url("devel"))
                elif action == "config":
                    self.remote(rel).get_config_stack().set("append_revisions_only", "False")
                elif action == "break-lock":
                    self.remote(rel).break_lock()
                else:
                    ControlDir.create_branch_convenience(self.url(rel + "/.bzr/branch/lock/held"), force_new_tree=False)
            elif kind == "qa":
                pending = self.prodgate("qa", "pending").stdout.split()
                revs = [w for w in pending if w.startswith("r") and w[1:].isdigit()]
                if revs:
                    self.prodgate("qa", self.rng.choice(["ok", "ok", "bad", "untestable"]), self.rng.choice(revs), user="quinn")
            elif kind == "foxtrot":
                src = self.remote("devel")
                revno = src.revno()
                if revno >= 2:
                    path = os.path.join(self.root, "fox%d" % self.counter)
                    tree = src.controldir.sprout(path, revision_id=src.get_rev_id(self.rng.randrange(1, revno))).open_workingtree()
                    self.commit("side", tree, name="side%d.txt" % self.counter)
                    tree.merge_from_branch(src)
                    self.commit("merge devel into side", tree)
                    self.push(tree.branch, "devel")
                    shutil.rmtree(path)
            elif kind == "ungoverned":
                target = "feature%d" % self.rng.randrange(3)
                self.push(self.work.branch, target, overwrite=True)
                if self.rng.random() < 0.3:
                    self.remote(target).get_config_stack().set("stacked_on_location", "file:///nonexistent")
            elif kind == "reset-work":
                src = Branch.open(os.path.join(self.srv, self.rng.choice(("devel",) * 4 + ORDERED)))
                shutil.rmtree(self.work_path)
                self.work = src.controldir.sprout(self.work_path).open_workingtree()
            elif kind in ("ghost", "odd-id"):
                path = os.path.join(self.root, "craft%d" % self.counter)
                tree = self.remote("devel").controldir.sprout(path).open_workingtree()
                try:
                    if kind == "ghost":
                        tip = tree.last_revision()
                        ghost = b"ghost-%d" % self.counter
                        parents = [ghost, tip] if self.rng.random() < 0.5 else [tip, ghost]
                        if parents[0] != tip:
                            tree.branch.set_last_revision_info(0, b"null:")
                        tree.set_parent_ids(parents, allow_leftmost_as_ghost=True)
                        self.commit("ghosted", tree)
                    else:
                        rid = self.rng.choice([b"devel", b"0" * 40, b"r3", b"x\x1b[2Jy", b"a\xe2\x80\xaeb"])
                        self.commit("odd id", tree, rev_id=rid + (b"-%d" % self.counter if self.rng.random() < 0.3 else b""))
                    self.push(tree.branch, rel)
                finally:
                    shutil.rmtree(path)
            elif kind == "lock":
                b = self.remote(rel)
                b.lock_write()
                b.unlock()
        except Exception as e:  # a refusal is an allowed outcome; the invariants judge the result
            if os.environ.get("FUZZ_DEBUG"):
                print("step %s %s: %s" % (kind, rel, str(e).splitlines()[0] if str(e) else type(e).__name__))
        else:
            if os.environ.get("FUZZ_DEBUG"):
                print("step %s %s: done" % (kind, rel))
        return kind

    # -- invariants --------------------------------------------------------
    def read_tips(self):
        from breezy.branch import Branch

        tips = {}
        for rel in GOVERNED:
            b = Branch.open(os.path.join(self.srv, rel))
            tips[rel] = b.last_revision_info()
        return tips

    def check(self, step, kind):
        from breezy import errors
        from breezy.branch import Branch, UnstackableBranchFormat
        from breezy.controldir import ControlDir

        def fail(why):
            raise AssertionError("step %d (%s): %s" % (step, kind, why))

        shared = ControlDir.open(self.srv).open_repository()
        tips = {}
        for rel in GOVERNED:
            try:
                b = Branch.open(os.path.join(self.srv, rel))
            except errors.BzrError as e:
                fail("%s cannot be opened: %s" % (rel, e))
            if os.path.realpath(b.repository.controldir.root_transport.local_abspath(".")) != os.path.realpath(self.srv):
                fail("%s left the shared repository" % rel)
            try:
                b.get_stacked_on_url()
                fail("%s is stacked" % rel)
            except (errors.NotStacked, UnstackableBranchFormat):
                pass
            revno, tip = b.last_revision_info()
            with shared.lock_read():
                chain = list(shared.get_graph().iter_lefthand_ancestry(tip, (b"null:",))) if tip != b"null:" else []
            if revno != len(chain):
                fail("%s stores revno %d for a left-hand history of %d" % (rel, revno, len(chain)))
            tips[rel] = (revno, tip)
        db = sqlite3.connect("file:%s.prodgate/state.db?mode=ro" % self.srv, uri=True)
        try:
            for rel in GOVERNED:
                old, new = self.tips[rel][1], tips[rel][1]
                if old == new:
                    continue
                new_text = new.decode() if new != b"null:" else "0" * 40
                audited = db.execute(
                    "SELECT 1 FROM audit WHERE ref = ? AND new = ? AND decision = 'accepted'", ("refs/heads/" + rel, new_text)
                ).fetchone()
                mirrored = rel == "production-stable" and db.execute("SELECT 1 FROM mirror_runs WHERE to_sha = ?", (new_text,)).fetchone()
                if not audited and not mirrored:
                    fail("%s moved to %r with no accepted audit row" % (rel, new))
                if rel in ORDERED:
                    with shared.lock_read():
                        chain = set(shared.get_graph().iter_lefthand_ancestry(new, (b"null:",)))
                    if old != b"null:" and old not in chain:
                        fail("%s lost its old tip %r from its left-hand history" % (rel, old))
        finally:
            db.close()
        ps, st = tips["production-stable"][1], tips["stable"][1]
        if ps != b"null:":
            with shared.lock_read():
                mainline = set(shared.get_graph().iter_lefthand_ancestry(st, (b"null:",)))
            if ps not in mainline:
                fail("production-stable %r is not on stable's mainline" % ps)
        if os.path.exists(os.path.join(self.srv, ".bzr", "prodgate")):
            fail("prodgate's state is inside the served tree")
        for rel in GOVERNED + ("",):
            held = os.path.join(self.srv, rel, ".bzr", "branch" if rel else "repository", "lock", "held", ".bzr")
            if os.path.exists(held):
                fail("a control directory was planted in %s" % held)
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
        except OSError:
            fail("the server stopped answering")
        self.tips = tips


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    import signal

    import breezy

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    root = tempfile.mkdtemp(prefix="prodgate-fuzz-bzr-")
    os.makedirs(os.path.join(root, "home"))
    os.environ["HOME"] = os.path.join(root, "home")
    os.environ["BRZ_EMAIL"] = "Dev <dev@example.com>"
    with breezy.initialize(setup_ui=False):
        import breezy.bzr  # noqa: F401
        from breezy import trace

        trace.be_quiet(True)

        fuzz = Fuzz(args.seed, root)
        started = time.time()
        try:
            fuzz.start()
            for i in range(1, args.steps + 1):
                kind = fuzz.step()
                fuzz.check(i, kind)
                if i % 100 == 0:
                    sys.stderr.write("fuzz:bzr seed %d: %d steps clean\n" % (args.seed, i))
        except AssertionError as e:
            print("fuzz:bzr seed %d FAILED at %s (scratch kept in %s)" % (args.seed, e, root))
            fuzz.stop()
            return 1
        finally:
            if fuzz.server.poll() is None:
                fuzz.stop()
        print(
            "fuzz:bzr seed %d: %d steps clean in %.0fs; tips %s; steps %s"
            % (
                args.seed,
                args.steps,
                time.time() - started,
                {k: v[0] for k, v in fuzz.tips.items()},
                dict(sorted(fuzz.steps_done.items())),
            )
        )
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
