"""The branch-tip hooks: gather facts with Breezy, let prodgate's engine decide."""

import json
import os
import re
import subprocess

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


def _ask_engine(stage, document):
    cmd = _engine_command() + ["bzr-hook", stage]
    proc = subprocess.run(cmd, input=json.dumps(document), capture_output=True, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        why = (proc.stderr.strip().splitlines() or ["no answer"])[-1]
        raise RuntimeError(why)
    return json.loads(proc.stdout)


def _consult(params, root, rel, stage, tip, extra=()):
    """Gather the repository's facts around this tip change and ask the engine."""
    update = {"branch": rel, "old": _revid(params.old_revid), "new": _revid(params.new_revid), "revno": params.new_revno}
    snapshot = facts.gather(
        root,
        tips={rel: tip},
        extra=list(extra),
        root_transport=_root_transport(params.branch, rel),
    )
    return _ask_engine(stage, {"snapshot": snapshot, "update": update})


def pre_change_branch_tip(params):
    where = _locate(params.branch)
    if where is None:
        return
    root, rel = where
    try:
        answer = _consult(params, root, rel, "pre-change", tip=params.old_revid, extra=[params.new_revid])
    except Exception as e:  # fail closed: a governed branch is never changed unjudged
        raise errors.TipChangeRejected(
            "prodgate: rejected %s [unavailable]: prodgate could not judge the change (%s); tell the repository's admin"
            % (rel, _printable(e))
        )
    if not answer.get("accepted"):
        raise errors.TipChangeRejected("\n".join(answer.get("lines") or ["prodgate: rejected"]))
    for line in answer.get("lines") or []:
        trace.note(line)


def post_change_branch_tip(params):
    where = _locate(params.branch)
    if where is None:
        return
    root, rel = where
    try:
        answer = _consult(params, root, rel, "post-change", tip=params.new_revid)
    except Exception as e:  # the change has landed; report and leave the rest to `prodgate sync`
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
