"""The branch-tip hooks: gather facts with Breezy, let prodgate's engine decide."""

import json
import os
import re
import subprocess
import threading

from breezy import errors, trace

from . import facts

HERE = os.path.dirname(os.path.abspath(__file__))


def _engine_command():
    node = os.environ.get("PRODGATE_NODE") or "node"
    main = os.environ.get("PRODGATE_MAIN") or os.path.join(HERE, "..", "..", "dist", "prodgate.cjs")
    return [node, main]


def check_installed():
    """Refuse to serve unless both branch hooks are in place."""
    from breezy.branch import Branch

    for point, name in (("pre_change_branch_tip", "prodgate gate"), ("post_change_branch_tip", "prodgate record and mirror")):
        if not any(Branch.hooks.get_hook_name(h) == name for h in Branch.hooks[point]):
            raise errors.CommandError("prodgate: the %s hook is not installed; refusing to serve" % point)


def _served_root():
    root = os.environ.get("PRODGATE_BZR_ROOT")
    return os.path.realpath(root) if root else None


def _find_root(path):
    """The prodgate-managed shared repository holding `path` (a local push with the plugin loaded)."""
    path = os.path.realpath(path)
    while True:
        if os.path.isfile(facts.config_path(path)):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def _locate(branch):
    """(root, branch path relative to root) for a governed branch, else None."""
    path = facts.transport_local_path(branch.controldir.root_transport)
    if path is None:
        return None
    path = os.path.realpath(path)
    root = _served_root() or _find_root(path)
    if root is None or path == root or not path.startswith(root + os.sep):
        return None
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    names, globs = facts.governed_names(root)
    if not facts.is_governed(rel, names, globs):
        return None
    return root, rel


def _root_transport(branch, rel):
    """The shared repository's root, reached from the branch through the same (jailed) transport."""
    return branch.controldir.root_transport.clone("/".join([".."] * len(rel.split("/"))))


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


def _printable(text):
    return _UNPRINTABLE.sub("?", str(text))


def _revid(revid):
    if not revid or revid == facts.NULL_REVISION:
        return None
    return revid.decode("utf-8")


class _Session:
    """One engine process for one tip change: asked before it, told after it.

    One JSON document per line each way; the engine may ask for facts
    (see src/bzr/index.ts) before it answers. Closing its input ends it.
    """

    def __init__(self, root, rel, root_transport):
        import tempfile

        self.root, self.rel, self.root_transport = root, rel, root_transport
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            _engine_command() + ["bzr-hook", "session"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr
        )
        self.tips = None

    def _send(self, message):
        self.proc.stdin.write(json.dumps(message).encode("utf-8") + b"\n")
        self.proc.stdin.flush()

    def _failure(self):
        self.close()
        self.stderr.seek(0)
        lines = self.stderr.read().decode("utf-8", "replace").strip().splitlines()
        return RuntimeError(lines[-1] if lines else "no answer")

    def exchange(self, message, tips):
        """Send a stage, answer the engine's questions, return its answer."""
        self.tips = tips
        try:
            self._send(message)
            while True:
                line = self.proc.stdout.readline()
                if not line:
                    raise self._failure()
                reply = json.loads(line)
                if "ask" in reply:
                    self._send({"facts": facts.answer(self.root, reply["ask"], root_transport=self.root_transport, tips=self.tips)})
                    continue
                return reply["answer"]
        except (OSError, ValueError) as e:
            raise self._failure() from e

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# The session of a change judged and not yet landed, per serving thread (the
# pre and post hooks of one change run in the same thread).
_sessions = threading.local()


def _take_session(key):
    held = getattr(_sessions, "held", None)
    _sessions.held = None
    if held is not None and held[0] != key:
        held[1].close()
        return None
    return held[1] if held is not None else None


def _keep_session(key, session):
    _take_session(None)
    _sessions.held = (key, session)


def _stage(params, root, rel, stage, tip, session=None):
    """Send one stage of this tip change to the engine: the governed tips as they
    stand (the changed branch at `tip`), and before the change the revisions the
    new tip brings that no governed tip holds. Never the history."""
    rt = _root_transport(params.branch, rel)
    tips = {rel: tip}
    branches, revnos, layout = facts.read_tips(root, rt, tips)
    revisions, ghosts = [], []
    if stage == "pre-change" and params.new_revid and params.new_revid != facts.NULL_REVISION:
        known = [r for r in branches.values() if r]
        revisions, ghosts = facts.revisions_since(facts.open_repository(root, rt), [_revid(params.new_revid)], known)
    snapshot = {"root": root, "branches": branches, "revnos": revnos, "layout": layout, "revisions": revisions, "ghosts": ghosts}
    update = {"branch": rel, "old": _revid(params.old_revid), "new": _revid(params.new_revid), "revno": params.new_revno}
    session = session or _Session(root, rel, rt)
    return session, session.exchange({"stage": stage, "snapshot": snapshot, "update": update}, tips)


def pre_change_branch_tip(params):
    where = _locate(params.branch)
    if where is None:
        return
    root, rel = where
    key = (rel, params.old_revid, params.new_revid)
    _take_session(None)
    session = None
    try:
        session, answer = _stage(params, root, rel, "pre-change", tip=(params.old_revno, params.old_revid))
    except Exception as e:  # fail closed: a governed branch is never changed unjudged
        if session is not None:
            session.close()
        raise errors.TipChangeRejected(
            "prodgate: rejected %s [unavailable]: prodgate could not judge the change (%s); tell the repository's admin"
            % (rel, _printable(e))
        )
    if not answer.get("accepted"):
        session.close()
        raise errors.TipChangeRejected("\n".join(answer.get("lines") or ["prodgate: rejected"]))
    _keep_session(key, session)
    for line in answer.get("lines") or []:
        trace.note(line)


def post_change_branch_tip(params):
    where = _locate(params.branch)
    if where is None:
        return
    root, rel = where
    session = _take_session((rel, params.old_revid, params.new_revid))
    try:
        session, answer = _stage(params, root, rel, "post-change", tip=(params.new_revno, params.new_revid), session=session)
        session.close()
    except Exception as e:  # the change has landed; report and leave the rest to `prodgate sync`
        if session is not None:
            session.close()
        trace.warning("prodgate: the change landed, but recording it failed (%s); an admin should run prodgate sync" % _printable(e))
        return
    # The engine cannot lock the branch this process is changing; it hands
    # moves of that branch back, and nobody else can move it while we hold it.
    for move in answer.get("moves") or []:
        if move["branch"] != rel:
            continue
        branch = params.branch
        if _revid(branch.last_revision()) != move["old"]:
            trace.warning("prodgate: %s moved meanwhile; run prodgate sync" % rel)
            continue
        new_id = move["new"].encode("utf-8")
        branch._write_last_revision_info(move["revno"], new_id)
        branch._clear_cached_state()
        branch._last_revision_info_cache = move["revno"], new_id
    for line in answer.get("lines") or []:
        trace.note(line)
