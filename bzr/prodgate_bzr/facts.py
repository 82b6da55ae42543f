"""Facts about a Bazaar shared repository, gathered with Breezy's API.

Used in two places with the same code: inside the server process by the
plugin's branch-tip hooks, and by helper.py for the admin command. The result
is one JSON-ready document that prodgate's engine reads.
"""

import os
import re
import subprocess

NULL_REVISION = b"null:"
DEFAULT_BRANCHES = ("devel", "stable", "production-stable", "production-devel")
_BRANCH_KEYS = ("prodgate.develbranch", "prodgate.stablebranch", "prodgate.productionstablebranch", "prodgate.productiondevelbranch")


def state_dir(root):
    """prodgate's configuration and database: next to the served root, never inside it."""
    return os.path.realpath(root).rstrip(os.sep) + ".prodgate"


def config_path(root):
    return os.path.join(state_dir(root), "config")


_governed_cache = {}


def governed_names(root):
    """(branch paths, globs) prodgate governs in the shared repository at root.

    Read from the configuration (cached while the file is unchanged), united
    with what serve-bzr read when it started (PRODGATE_BZR_GOVERNED), so an
    unreadable configuration never makes a governed branch ungoverned.
    """
    cfg = config_path(root)
    try:
        st = os.stat(cfg)
        key = (cfg, st.st_mtime_ns, st.st_size)
    except OSError:
        key = (cfg, None, None)
    cached = _governed_cache.get(key)
    if cached is None:
        names = set(DEFAULT_BRANCHES)
        globs = set()
        try:
            proc = subprocess.run(
                ["git", "config", "-z", "--file", cfg, "--get-regexp", r"^prodgate\."],
                capture_output=True,
                env=dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null"),
            )
            found = {}
            for entry in proc.stdout.decode("utf-8", "replace").split("\0"):
                if "\n" in entry:
                    k, v = entry.split("\n", 1)
                    found.setdefault(k, []).append(v)
            for k in _BRANCH_KEYS:
                if k in found:
                    names.add(found[k][-1])
            for g in found.get("prodgate.governed", []):
                if g.startswith("refs/"):
                    globs.add(g)
        except OSError:
            pass
        for line in os.environ.get("PRODGATE_BZR_GOVERNED", "").split("\n"):
            if line.startswith("ref:"):
                globs.add(line[4:])
            elif line.startswith("glob:"):
                globs.add("refs/heads/" + line[5:])
            elif line:
                names.add(line)
        cached = (frozenset(names), frozenset(globs))
        _governed_cache.clear()
        _governed_cache[key] = cached
    return cached


def ref_glob_match(pattern, ref):
    """The engine's glob for prodgate.governed (refGlobMatch in src/policy/refs.ts),
    character for character: `*` within a path part, `**` across parts, nothing
    else special. Any other reading would leave a branch the engine governs unjudged."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        out.append("[^/]*" if pattern[i] == "*" else re.escape(pattern[i]))
        i += 1
    return re.fullmatch("".join(out), ref) is not None


def is_governed(rel, names, globs):
    """globs are full ref patterns (refs/...), matched against refs/heads/<rel> as the engine does."""
    return rel in names or any(ref_glob_match(g, "refs/heads/" + rel) for g in globs)


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


def governed_paths(root):
    """The governed branch paths to read: the configured names, and branches matching a governed glob."""
    names, globs = governed_names(root)
    paths = set(names)
    if globs:
        paths.update(rel for rel in branch_paths(root) if is_governed(rel, names, globs))
    return sorted(paths)


def layout_problem(root, branch):
    """Why a governed branch cannot be judged from the shared repository at root, or None."""
    from breezy import errors
    from breezy.branch import UnstackableBranchFormat

    repo_path = transport_local_path(branch.repository.controldir.root_transport)
    if repo_path is None or os.path.realpath(repo_path) != os.path.realpath(root):
        return "it does not use the shared repository (standalone, or in a nested repository)"
    try:
        stacked = branch.get_stacked_on_url()
    except (errors.NotStacked, UnstackableBranchFormat):
        stacked = None
    except errors.BzrError:
        stacked = "?"
    if stacked:
        return "it is stacked on another branch"
    return None


def _text(revid):
    return revid.decode("utf-8") if isinstance(revid, bytes) else revid


def _open_branch(root, rel, root_transport):
    """The branch at rel, never following its stacking; None when there is none."""
    from breezy import errors
    from breezy.controldir import ControlDir

    try:
        if root_transport is not None:
            cd = ControlDir.open_from_transport(root_transport.clone(rel))
        else:
            cd = ControlDir.open(os.path.join(root, rel))
        return cd.open_branch(ignore_fallbacks=True)
    except errors.NotBranchError:
        return None


def open_repository(root, root_transport=None):
    """The shared repository at root, opened by its path: the one source of history."""
    from breezy.controldir import ControlDir

    if root_transport is not None:
        return ControlDir.open_from_transport(root_transport).open_repository()
    return ControlDir.open(root).open_repository()


def open_governed(root, root_transport=None):
    """The governed branches that exist, as [(rel, branch)], and {rel: why} for
    those that cannot be judged from the shared repository (see layout_problem)."""
    opened, layout = [], {}
    for rel in governed_paths(root):
        branch = _open_branch(root, rel, root_transport)
        if branch is None:
            continue
        problem = layout_problem(root, branch)
        if problem:
            layout[rel] = problem
        opened.append((rel, branch))
    return opened, layout


def gather(root, repository=None, tips=None, extra=(), root_transport=None):
    """The governed branches' tips and the ancestry of all of them (with messages).

    History comes only from the shared repository at root (`repository`, when
    the caller has it open already, must be that one). `tips` overrides what is
    read from disk (the hook knows the branch being changed better than its
    file does); `extra` adds revisions whose ancestry is wanted too (the
    proposed new tip). Inside the server, `root_transport` reaches the sibling
    branches through the server's own jail. Branches prodgate does not govern
    are never opened: nothing a developer stores there can change the answer.
    """
    branches = {}
    opened, layout = open_governed(root, root_transport)
    for rel, branch in opened:
        if not (tips and rel in tips):
            branches[rel] = branch.last_revision()
    for rel, revid in (tips or {}).items():
        branches[rel] = revid
    if repository is None:
        repository = open_repository(root, root_transport)
    wanted = [r for r in list(branches.values()) + list(extra) if r and r != NULL_REVISION]
    revisions = []
    if wanted:
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
        "layout": layout,
    }


def read_tips(root, root_transport=None, tips=None):
    """The governed branches' tips as each branch states them: ({rel: id or None}, {rel: revno}, layout).

    Reads each branch's last-revision file only: no history. `tips` overrides
    what is read (the hook knows the branch being changed better than its file).
    """
    branches, revnos = {}, {}
    opened, layout = open_governed(root, root_transport)
    for rel, branch in opened:
        if tips and rel in tips:
            continue
        revno, revid = branch.last_revision_info()
        branches[rel] = None if not revid or revid == NULL_REVISION else _text(revid)
        if branches[rel] is not None:
            revnos[rel] = revno
    for rel, (revno, revid) in (tips or {}).items():
        branches[rel] = None if not revid or revid == NULL_REVISION else _text(revid)
        if branches[rel] is not None:
            revnos[rel] = revno
    return branches, revnos, layout


def revisions_since(repository, heads, known):
    """The revisions in the ancestry of `heads` and not in the ancestry of `known`,
    as [id, parents, message] (ghost parents kept), and the ghosts among their parents.

    Costs what is new, not the history: Breezy's find_unique_ancestors stops at
    the known revisions."""
    heads = [h.encode("utf-8") for h in heads if h]
    known = [k.encode("utf-8") for k in known if k]
    if not heads:
        return [], []
    with repository.lock_read():
        graph = repository.get_graph()
        held_known = [k for k in known if k in graph.get_parent_map(known)]
        ids = set()
        for head in heads:
            if not repository.has_revision(head):
                continue
            if held_known:
                ids.update(graph.find_unique_ancestors(head, held_known))
            else:
                ids.update(r for r, p in graph.iter_ancestry([head]) if p is not None)
        ids.discard(NULL_REVISION)
        parent_map = graph.get_parent_map(ids)
        outside = set()
        for parents in parent_map.values():
            outside.update(p for p in parents if p not in parent_map and p != NULL_REVISION)
        held = set(graph.get_parent_map(outside)) if outside else set()
        ghosts = sorted(_text(p) for p in outside if p not in held)
        messages = {}
        for revid, revision in repository.iter_revisions(list(parent_map)):
            messages[revid] = revision.message if revision is not None else ""
        revisions = [
            [_text(r), [_text(p) for p in parents if p != NULL_REVISION], messages.get(r, "")] for r, parents in parent_map.items()
        ]
    return revisions, ghosts


def _pid_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def dead_locks(repository, branches):
    """The locks on `branches` and `repository` whose holder was a process of
    this machine that no longer runs (a killed serve-bzr, a killed brz), as
    [{path, holder}]. Breezy takes such a lock over by itself only when the
    process that wants it runs as the same Breezy identity; any other waits
    on it until an admin runs brz break-lock. Locks held by a running process
    (a push under way) are not listed."""
    from breezy.osutils import get_host_name

    found = []
    for thing in list(branches) + [repository]:
        lock = getattr(getattr(thing, "control_files", None), "_lock", None)
        peek = getattr(lock, "peek", None)
        if peek is None:
            continue
        try:
            info = peek()
        except Exception:  # noqa: BLE001  (unreadable lock information: Breezy reports it itself)
            continue
        if info is None:
            continue
        host = info.get("hostname")
        try:
            pid = int(info.info_dict.get("pid", ""))
        except ValueError:
            continue
        if host != get_host_name() or host == "localhost" or not _pid_gone(pid):
            continue
        path = transport_local_path(thing.controldir.root_transport) or thing.controldir.root_transport.base
        found.append({"path": path, "holder": _printable_holder(str(info))})
    return found


def _printable_holder(text):
    return re.sub("[\x00-\x1f\x7f]", "?", text)


def answer(root, request, repository=None, root_transport=None, tips=None):
    """prodgate's facts request (see src/bzr/index.ts): the governed tips, then
    either everything or only what the index does not hold yet."""
    if repository is None:
        repository = open_repository(root, root_transport)
    if request.get("everything"):
        out = gather(root, repository=repository, tips={k: v[1] for k, v in (tips or {}).items()}, root_transport=root_transport)
        _, revnos, _ = read_tips(root, root_transport, tips)
        out["revnos"] = revnos
        return out
    branches, revnos, layout = read_tips(root, root_transport, tips)
    if request.get("tipsOnly"):
        locks = dead_locks(repository, [branch for _rel, branch in open_governed(root, root_transport)[0]])
        return {"root": root, "branches": branches, "revnos": revnos, "layout": layout, "revisions": [], "locks": locks}
    heads = [r for r in branches.values() if r] + list(request.get("heads") or [])
    revisions, ghosts = revisions_since(repository, heads, list(request.get("known") or []))
    out = {"root": root, "branches": branches, "revnos": revnos, "layout": layout, "revisions": revisions, "ghosts": ghosts}
    asked = [g.encode("utf-8") for g in request.get("ghosts") or []]
    if asked:
        with repository.lock_read():
            out["present"] = sorted(_text(g) for g in repository.has_revisions(asked))
    return out


class TipMoved(Exception):
    pass


class BranchLocked(Exception):
    pass


def lock_wait_seconds():
    """How long an admin command waits for a branch lock (PRODGATE_BZR_LOCK_WAIT, default 10 s)."""
    try:
        return max(0.0, float(os.environ.get("PRODGATE_BZR_LOCK_WAIT", "10")))
    except ValueError:
        return 10.0


def set_tip(root, rel, new, old, revno):
    """Compare-and-swap a governed branch's tip: refuse when it is no longer at `old`.

    The revision must already be in the shared repository, which the branch
    must use. A lock held by someone else is waited on for a bounded time.
    """
    from breezy import errors, lockdir

    lockdir._DEFAULT_TIMEOUT_SECONDS = lock_wait_seconds()
    branch = _open_branch(root, rel, None)
    if branch is None:
        raise errors.NotBranchError(os.path.join(root, rel))
    problem = layout_problem(root, branch)
    if problem:
        raise errors.BzrError("prodgate will not move %s: %s" % (rel, problem))
    new_id = new.encode("utf-8")
    old_id = old.encode("utf-8") if old else NULL_REVISION
    try:
        lock = branch.lock_write()
    except errors.LockContention as e:
        held = getattr(e, "lock", None)
        raise BranchLocked(
            "%s is locked%s and stayed locked for %gs; if no one is pushing to it, run brz break-lock %s"
            % (rel, " (%s)" % held if held else "", lock_wait_seconds(), os.path.join(root, rel))
        )
    try:
        current = branch.last_revision()
        if current != old_id:
            raise TipMoved("%s is at %s, not %s" % (rel, _text(current), _text(old_id)))
        if not branch.repository.has_revision(new_id):
            raise errors.BzrError("prodgate will not move %s: %s is not in the shared repository" % (rel, new))
        branch.set_last_revision_info(revno, new_id)
    finally:
        lock.unlock()
