"""Facts about a Bazaar shared repository, gathered with Breezy's API.

Used in two places with the same code: inside the server process by the
plugin's branch-tip hooks, and by helper.py for the admin command. The result
is one JSON-ready document that prodgate's engine reads.
"""

import os

STATE_DIR = os.path.join(".bzr", "prodgate")
CONFIG_NAME = "config"
NULL_REVISION = b"null:"


def find_root(path):
    """The prodgate-managed shared repository holding `path`, or None."""
    path = os.path.abspath(path)
    while True:
        if os.path.isfile(os.path.join(path, STATE_DIR, CONFIG_NAME)):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def transport_local_path(transport):
    """The local directory behind a transport, unwinding the server's chroot
    and path-filtering transports; None when it is not on this machine."""
    from breezy import errors

    try:
        return transport.local_abspath(".")
    except (errors.NotLocalUrl, errors.TransportNotPossible):
        pass
    server = getattr(transport, "server", None)
    backing = getattr(server, "backing_transport", None)
    if backing is None or not hasattr(transport, "_filter"):
        return None
    return transport_local_path(backing.clone(transport._filter(".")))


def branch_paths(root):
    """Relative paths of the branches under root (not descending into them)."""
    found = []
    for current, dirs, _files in os.walk(root):
        if os.path.isfile(os.path.join(current, ".bzr", "branch", "format")) and current != root:
            found.append(os.path.relpath(current, root).replace(os.sep, "/"))
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if d != ".bzr")
    return found


def _text(revid):
    return revid.decode("utf-8") if isinstance(revid, bytes) else revid


def gather(root, repository=None, tips=None, extra=(), root_transport=None):
    """Branch tips and the ancestry of all of them (with messages).

    `tips` overrides what is read from disk (the hook knows the branch being
    changed better than its file does); `extra` adds revisions whose ancestry
    is wanted too (the proposed new tip). Inside the server, `root_transport`
    reaches the sibling branches through the server's own jail.
    """
    from breezy.branch import Branch

    branches = {}
    for rel in branch_paths(root):
        if tips and rel in tips:
            continue
        if root_transport is not None:
            branch = Branch.open_from_transport(root_transport.clone(rel))
        else:
            branch = Branch.open(os.path.join(root, rel))
        branches[rel] = branch.last_revision()
        if repository is None:
            repository = branch.repository
    for rel, revid in (tips or {}).items():
        branches[rel] = revid
    wanted = [r for r in list(branches.values()) + list(extra) if r and r != NULL_REVISION]
    revisions = []
    if repository is not None and wanted:
        with repository.lock_read():
            graph = repository.get_graph()
            ancestry = [(r, p) for r, p in graph.iter_ancestry(wanted) if p is not None and r != NULL_REVISION]
            messages = {}
            ids = [r for r, _ in ancestry]
            for rev in repository.iter_revisions(ids):
                revid, revision = rev
                messages[revid] = revision.message if revision is not None else ""
            for revid, parents in ancestry:
                revisions.append(
                    [_text(revid), [_text(p) for p in parents if p != NULL_REVISION], messages.get(revid, "")]
                )
    return {
        "root": root,
        "branches": {rel: (None if not r or r == NULL_REVISION else _text(r)) for rel, r in branches.items()},
        "revisions": revisions,
    }


class TipMoved(Exception):
    pass


def set_tip(root, rel, new, old, revno, source_rel=None, wait=True):
    """Compare-and-swap a branch's tip: refuse when it is no longer at `old`.

    The revisions come from `source_rel` when the branch's repository lacks
    them (branches outside a shared repository).
    """
    from breezy import errors
    from breezy.branch import Branch

    branch = Branch.open(os.path.join(root, rel))
    new_id = new.encode("utf-8")
    old_id = old.encode("utf-8") if old else NULL_REVISION
    try:
        lock = branch.lock_write()
    except errors.LockContention as e:
        raise TipMoved("%s is locked by another change (%s)" % (rel, e))
    try:
        current = branch.last_revision()
        if current != old_id:
            raise TipMoved("%s is at %s, not %s" % (rel, _text(current), _text(old_id)))
        if not branch.repository.has_revision(new_id) and source_rel:
            source = Branch.open(os.path.join(root, source_rel))
            branch.repository.fetch(source.repository, revision_id=new_id)
        branch.set_last_revision_info(revno, new_id)
    finally:
        lock.unlock()
