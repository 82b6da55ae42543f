"""prodgate's Breezy plugin: the same gate as prodgate's git hooks.

Serve a shared repository only with `prodgate serve-bzr`, which runs this
plugin's `brz prodgate-serve`: without the plugin loaded there is no such
command, so nothing is served unjudged. The server then refuses Breezy's
file-level (VFS) verbs and every structural change of a governed branch; a
governed branch's tip changes only through the branch hooks below, which ask
prodgate's engine first and record the change after.
"""

# Only register when Breezy loads this as a plugin, never when the helper
# script imports the module next to it.
if __name__ == "breezy.plugins.prodgate_bzr":
    from breezy.branch import Branch
    from breezy.commands import plugin_cmds

    Branch.hooks.install_named_hook_lazy(
        "pre_change_branch_tip", "breezy.plugins.prodgate_bzr.hooks", "pre_change_branch_tip", "prodgate gate"
    )
    Branch.hooks.install_named_hook_lazy(
        "post_change_branch_tip", "breezy.plugins.prodgate_bzr.hooks", "post_change_branch_tip", "prodgate record and mirror"
    )
    plugin_cmds.register_lazy("cmd_prodgate_serve", [], "breezy.plugins.prodgate_bzr.serve")
