"""`brz prodgate-serve`: brz serve with writes, no file-level verbs, and a jail
around the governed branches.

A client may read anything a branch operation reads, create and change
branches that prodgate does not govern, and move a governed branch's tip
through Breezy's branch verbs, which run the branch hooks. It may not read or
write files (the VFS verbs answer Permission denied), and it may not remove,
reconfigure, stack, configure or unlock a governed branch or the shared
repository, nor create anything inside a governed branch or a control
directory.
"""

import fcntl
import os
import posixpath
import threading

from breezy import errors, urlutils
from breezy.commands import Command
from breezy.option import Option

from . import facts

# Verbs that change a branch, a control directory or the repository other than
# by moving a tip (those go through the hooks) or storing revisions.
_BRANCH_VERBS = (
    b"Branch.set_config_option",
    b"Branch.set_config_option_dict",
    b"Branch.put_config_file",
    b"Branch.set_parent_location",
    b"Branch.break_lock",
)
_CONTROL_VERBS = (
    b"BzrDir.create_branch",
    b"BzrDir.create_repository",
    b"BzrDir.destroy_branch",
    b"BzrDir.destroy_repository",
    b"BzrDirFormat.initialize",
)
_REPOSITORY_VERBS = (
    b"Repository.break_lock",
    b"Repository.reconcile",
    b"Repository.set_make_working_trees",
)
# (verb, index of the path argument)
_GUARDED = (
    [(v, 0) for v in _BRANCH_VERBS + _CONTROL_VERBS + _REPOSITORY_VERBS] + [(b"BzrDirFormat.initialize_ex_1.16", 1)]
)


class GovernedBranchProtected(errors.BzrError):
    _fmt = "%(msg)s"

    def __init__(self, msg):
        errors.BzrError.__init__(self, msg=msg)


def protected_reason(root, rel, verb):
    """Why `verb` on `rel` (a path relative to the served root) is refused, or None."""
    if verb == b"Branch.break_lock":
        # Breaking a branch's lock also breaks its repository's (the shared
        # one) and its master's, which may be a governed branch it is bound to.
        return (
            "locks are not broken by clients: the server releases a lock when the connection that took it ends; "
            "an admin can run brz break-lock on the server"
        )
    rel = posixpath.normpath(rel or ".")
    if ".bzr" in rel.split("/"):
        return "%s is inside a control directory, which only Breezy's own operations change" % rel
    if rel in (".", ""):
        if verb.startswith(b"Branch."):
            return None
        return "the shared repository itself is managed by prodgate's admin, not by clients"
    names, globs = facts.governed_names(root)
    parts = rel.split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        if facts.is_governed(prefix, names, globs):
            if prefix == rel:
                return "%s is governed by prodgate: clients may only move its tip (brz push, brz uncommit), and only as prodgate allows" % rel
            return "%s is inside %s, which is governed by prodgate" % (rel, prefix)
    return None


def _guard(root, verb, cls, path_index):
    class Guarded(cls):
        def execute(self, *args):
            raw = args[path_index] if len(args) > path_index else b"."
            try:
                rel = urlutils.unescape(self.translate_client_path(raw))
            except (ValueError, errors.BzrError, UnicodeDecodeError):
                rel = None
            why = "prodgate could not tell which path this is" if rel is None else protected_reason(root, rel, verb)
            if why is not None:
                from breezy.bzr.smart.request import FailedSmartServerResponse

                message = "prodgate refused %s: %s" % (verb.decode(), why)
                return FailedSmartServerResponse((b"PermissionDenied", raw, message.encode("utf-8")))
            return cls.execute(self, *args)

    Guarded.__name__ = "Prodgate" + cls.__name__
    return Guarded


def _deny_files(verb, cls):
    """A file-level verb answered with Permission denied, which every client
    understands (`brz merge` and `brz pull` probe for a bundle file first and
    then use the branch); Breezy's own DisabledMethod would stop them."""

    class Denied(cls):
        def execute(self, *args):
            from breezy.bzr.smart.request import FailedSmartServerResponse

            path = args[0] if args and isinstance(args[0], bytes) else b"."
            message = b"prodgate: file-level access is off on this server; use branch operations (push, pull, branch, merge)"
            return FailedSmartServerResponse((b"PermissionDenied", path, message))

    Denied.__name__ = "Prodgate" + cls.__name__
    return Denied


# Verbs that move a branch's tip: the hooks judge the tip they read first, so
# two of them on one branch must never interleave. The branch lock does not
# keep them apart: a client holding it hands its token to as many connections
# as it likes, and each of them "holds" the lock.
_TIP_VERBS = (b"Branch.set_last_revision", b"Branch.set_last_revision_info", b"Branch.set_last_revision_ex")


def _tip_lock_path(root):
    return os.path.join(facts.state_dir(root), "bzr-tips.lock")


def _may_be_governed(root, request, raw):
    """False only for a path that is certainly not a governed branch: those
    tip changes are never judged, so they need not wait for the others."""
    try:
        rel = posixpath.normpath(urlutils.unescape(request.translate_client_path(raw)) or ".")
    except (ValueError, errors.BzrError, UnicodeDecodeError):
        return True
    names, globs = facts.governed_names(root)
    return rel in (".", "") or facts.is_governed(rel, names, globs)


def _serialise(root, cls):
    """A governed branch's tip-changing verb run under one lock per served repository, across
    connections and server processes (bzr+ssh starts one per connection):
    the tip the hook judges is the tip the change replaces."""

    class Serialised(cls):
        def execute(self, *args):
            if args and not _may_be_governed(root, self, args[0]):
                return cls.execute(self, *args)
            fd = os.open(_tip_lock_path(root), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                return cls.execute(self, *args)
            finally:
                os.close(fd)

    Serialised.__name__ = "Prodgate" + cls.__name__
    return Serialised


# Verbs that store revisions a client sends.
_INSERT_VERBS = (b"Repository.insert_stream", b"Repository.insert_stream_1.19", b"Repository.insert_stream_locked")


class GhostFillRefused(errors.BzrError):
    _fmt = "%(msg)s"

    def __init__(self, msg):
        errors.BzrError.__init__(self, msg=msg)


def governed_ghosts(root):
    """The ids no client may store: the ghosts of the governed history (parents
    it names that the repository does not hold), as Breezy states that history
    now.

    The revision index records the ghosts of the history it holds; it is read
    here only while every governed tip on disk is the tip it recorded. A change
    made around the server (an admin's push, pull or uncommit on disk, which no
    hook sees) leaves the index behind until its next read: then the ghosts of
    what is new since the recorded tips are asked of Breezy as well (costing
    what is new, as the index's own catching up does). While the database
    cannot be read, the whole governed history's ghosts are asked of Breezy
    (a walk of every revision, paid only then): pushes prodgate does not govern
    never depend on prodgate's database, and a ghost filled meanwhile would
    still be on devel to Breezy once the database is back, so that stable would
    take it though no push to devel brought it. (A governed branch's own tip
    change fails closed while the database cannot be read: its hook cannot
    judge it.) A governed branch Breezy itself cannot read fails the insert
    with Breezy's error: its ghosts cannot be known, and filling one cannot be
    undone."""
    import sqlite3

    ghosts, recorded = set(), None
    path = os.path.join(facts.state_dir(root), "state.db")
    db = None
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        ghosts = {row[0] for row in db.execute("SELECT id FROM bzr_ghosts")}
        recorded = {row[0]: row[1] for row in db.execute("SELECT branch, id FROM bzr_tips")}
    except sqlite3.Error:
        ghosts, recorded = set(), None
    finally:
        if db is not None:
            db.close()
    branches, _revnos, _layout = facts.read_tips(root)
    stale = [tip for rel, tip in branches.items() if tip and (recorded is None or recorded.get(rel) != tip)]
    if stale:
        known = [] if recorded is None else [tip for tip in recorded.values() if tip]
        _revisions, new_ghosts = facts.revisions_since(facts.open_repository(root), stale, known)
        ghosts.update(new_ghosts)
    return ghosts


def _refuse_ghost_fills(root, stream):
    """The stream, refusing a revision whose id is a ghost of the governed
    history (see governed_ghosts): filled, it would put what the client chose
    into the governed branches' ancestry (on devel, to Breezy, though no push
    to devel brought it), change revnos when it is a left-hand parent, and make
    prodgate read the whole history again. Only an admin fills one, on the
    server."""
    ghosts = None
    for kind, substream in stream:
        if kind != "revisions":
            yield kind, substream
            continue
        if ghosts is None:
            ghosts = governed_ghosts(root)

        def checked(records, ghosts=ghosts):
            for record in records:
                revid = record.key[-1].decode("utf-8", "replace")
                if revid in ghosts:
                    raise GhostFillRefused(
                        "prodgate refused revision %s: the governed branches' history names it as a ghost (a parent "
                        "the repository does not hold); only the repository's admin may fill it, on the server" % revid
                    )
                yield record

        yield kind, checked(substream)


def _guard_inserts(root, cls):
    class GhostGuarded(cls):
        def _inserter_thread(self):
            import sys

            from breezy.bzr.smart.repository import _byte_stream_to_stream

            try:
                src_format, stream = _byte_stream_to_stream(self.blocking_byte_stream())
                self.insert_result = self.repository._get_sink().insert_stream(
                    _refuse_ghost_fills(root, stream), src_format, self.tokens
                )
                self.insert_ok = True
            except BaseException:
                self.insert_exception = sys.exc_info()
                self.insert_ok = False

    GhostGuarded.__name__ = "Prodgate" + cls.__name__
    return GhostGuarded


# Branch locks a connection took and has not released, per serving thread
# (Breezy serves each connection in its own thread, or process with --inet).
_held = threading.local()


def _held_locks():
    if not hasattr(_held, "locks"):
        _held.locks = {}
    return _held.locks


def _local_path(request, raw):
    try:
        return facts.transport_local_path(request.transport_from_client_path(raw))
    except (errors.BzrError, ValueError, UnicodeDecodeError):
        return None


def _tracking_lock(cls):
    class Tracked(cls):
        def execute(self, *args):
            response = cls.execute(self, *args)
            body = getattr(response, "args", ())
            if response.is_successful() and len(body) == 3 and args:
                path = _local_path(self, args[0])
                if path is not None:
                    _held_locks()[(path, body[1])] = body[2]
            return response

    Tracked.__name__ = "Prodgate" + cls.__name__
    return Tracked


def _tracking_unlock(cls):
    class Tracked(cls):
        def execute(self, *args):
            response = cls.execute(self, *args)
            if response.is_successful() and len(args) >= 2:
                path = _local_path(self, args[0])
                _held_locks().pop((path, args[1]), None)
            return response

    Tracked.__name__ = "Prodgate" + cls.__name__
    return Tracked


def release_left_locks():
    """Release the branch locks this connection took and left: a client that
    disconnects (or dies) holding a lock must not stop everyone else's pushes."""
    from breezy.controldir import ControlDir

    locks = _held_locks()
    while locks:
        (path, token), repo_token = locks.popitem()
        try:
            branch = ControlDir.open(path).open_branch(ignore_fallbacks=True)
            with branch.repository.lock_write(token=repo_token or None):
                branch.lock_write(token=token)
            if repo_token:
                branch.repository.dont_leave_lock_in_place()
            branch.dont_leave_lock_in_place()
            branch.unlock()
        except Exception:  # noqa: BLE001  (already released, broken, or taken over: nothing to give back)
            pass


def _release_at_disconnect():
    from breezy.bzr.smart import medium

    serve = medium.SmartServerStreamMedium.serve
    if getattr(serve, "_prodgate_releases", False):
        return

    def serve_then_release(self):
        try:
            return serve(self)
        finally:
            release_left_locks()

    serve_then_release._prodgate_releases = True
    medium.SmartServerStreamMedium.serve = serve_then_release


def install_guards(root):
    from breezy.bzr.smart import request, vfs

    handlers = request.request_handlers
    for verb in list(handlers.keys()):
        cls = handlers.get(verb)
        if isinstance(cls, type) and issubclass(cls, vfs.VfsRequest) and not getattr(cls, "_prodgate_guarded", False):
            info = handlers.get_info(verb)
            handlers.remove(verb)
            denied = _deny_files(verb, cls)
            denied._prodgate_guarded = True
            handlers.register(verb, denied, info=info)
    for verb, index in _GUARDED:
        cls = handlers.get(verb)
        if getattr(cls, "_prodgate_guarded", False):
            continue
        info = handlers.get_info(verb)
        handlers.remove(verb)
        guarded = _guard(root, verb, cls, index)
        guarded._prodgate_guarded = True
        handlers.register(verb, guarded, info=info)
    for verb, wrap in [(v, lambda cls: _serialise(root, cls)) for v in _TIP_VERBS] + [
        (v, lambda cls: _guard_inserts(root, cls)) for v in _INSERT_VERBS
    ] + [
        (b"Branch.lock_write", _tracking_lock),
        (b"Branch.unlock", _tracking_unlock),
    ]:
        cls = handlers.get(verb)
        if getattr(cls, "_prodgate_wrapped", False):
            continue
        info = handlers.get_info(verb)
        handlers.remove(verb)
        wrapped = wrap(cls)
        wrapped._prodgate_wrapped = True
        handlers.register(verb, wrapped, info=info)
    _release_at_disconnect()


def _stop_with_parent():
    """Die with `prodgate serve-bzr`, however it ends (even SIGKILL): Linux's
    parent-death signal. A parent already gone by now means stop at once."""
    parent = os.environ.get("PRODGATE_SERVE_PARENT")
    if not parent:
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if str(os.getppid()) != parent:
        raise SystemExit(0)


class cmd_prodgate_serve(Command):
    __doc__ = """Serve a prodgate-managed shared repository (use: prodgate serve-bzr)."""

    hidden = True
    takes_args = ["directory"]
    takes_options = [
        Option("inet", help="Serve on stdin/out for use from inetd or sshd."),
        Option("listen", type=str, help="Listen for connections on nominated address."),
        Option("port", type=int, help="Listen for connections on nominated port."),
    ]

    def run(self, directory, inet=False, listen=None, port=None):
        from breezy import transport

        _stop_with_parent()
        root = os.path.realpath(directory)
        os.environ["PRODGATE_BZR_ROOT"] = root
        # Breezy reads this at every request: no get/put/rename/delete of files.
        os.environ["BRZ_NO_SMART_VFS"] = "1"
        from . import hooks

        hooks.check_installed()
        install_guards(root)
        protocol = transport.transport_server_registry.get()
        t = transport.get_transport_from_url(urlutils.local_path_to_url(root))
        protocol(t, listen, port, inet, None)
