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

import os
import posixpath

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
