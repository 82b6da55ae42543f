"""prodgate's Breezy plugin: the same gate as prodgate's git hooks.

Load it in the server process (brz serve, bzr+ssh) with
BRZ_PLUGIN_PATH=<prodgate>/bzr. Branches inside a shared repository that
`install.sh --bzr` prepared are judged by prodgate's engine before their tip
changes; afterwards the change is recorded and the mirror runs.
"""

# Only register when Breezy loads this as a plugin, never when the helper
# script imports the module next to it.
if __name__ == "breezy.plugins.prodgate_bzr":
    from breezy.branch import Branch

    Branch.hooks.install_named_hook_lazy(
        "pre_change_branch_tip", "breezy.plugins.prodgate_bzr.hooks", "pre_change_branch_tip", "prodgate gate"
    )
    Branch.hooks.install_named_hook_lazy(
        "post_change_branch_tip", "breezy.plugins.prodgate_bzr.hooks", "post_change_branch_tip", "prodgate record and mirror"
    )
