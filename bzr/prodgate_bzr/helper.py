"""prodgate's helper for the admin command: one process per command.

    helper.py snapshot <root>
    helper.py facts <root>          (the request, JSON, on stdin; see src/bzr/index.ts)
    helper.py set-tip <root> <branch> <new> <old|-> <revno>

Prints one JSON document; on stderr one line and exit 1 when the repository
cannot be read, 3 when the tip has moved, 4 when the branch stayed locked.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import facts  # noqa: E402


def main(argv):
    import breezy

    breezy.initialize(setup_ui=False)
    import breezy.bzr  # noqa: F401  (registers the Bazaar formats)
    from breezy import errors

    try:
        if argv[:1] == ["snapshot"] and len(argv) == 2:
            json.dump(facts.gather(os.path.abspath(argv[1])), sys.stdout)
            return 0
        if argv[:1] == ["facts"] and len(argv) == 2:
            request = json.loads(sys.stdin.read() or "{}")
            json.dump(facts.answer(os.path.abspath(argv[1]), request), sys.stdout)
            return 0
        if argv[:1] == ["set-tip"] and len(argv) == 6:
            _, root, rel, new, old, revno = argv
            facts.set_tip(os.path.abspath(root), rel, new, None if old == "-" else old, int(revno))
            json.dump({"ok": True}, sys.stdout)
            return 0
    except facts.TipMoved as e:
        sys.stderr.write("moved: %s\n" % e)
        return 3
    except facts.BranchLocked as e:
        sys.stderr.write("%s\n" % e)
        return 4
    except errors.BzrError as e:
        sys.stderr.write("%s\n" % e)
        return 1
    sys.stderr.write("usage: helper.py snapshot <root> | set-tip <root> <branch> <new> <old|-> <revno>\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
