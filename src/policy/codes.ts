// The one catalog of decision codes. Messages, the README's table and the
// tests all read from here, so a code means the same thing everywhere.

export interface CodeEntry {
  /** One line: what the rule is. */
  rule: string;
  /** What the pusher can do instead (rejections only). */
  remedy?: string;
}

export const REJECTION_CODES = {
  "no-identity": {
    rule: "a push that touches a governed ref must come from a known user",
    remedy: "push through the server's authenticated channel, or ask an admin to check prodgate.identityVars",
  },
  "delete-protected": {
    rule: "this branch or tag is never deleted",
    remedy: "leave it in place; ask an admin if it really must go (break-glass override)",
  },
  "non-fast-forward": {
    rule: "this branch only moves forward: the new tip must contain the old one",
    remedy: "fetch, rebase or merge onto the current tip, and push again without --force",
  },
  "not-a-commit": {
    rule: "a governed branch or tag must point at a commit",
    remedy: "push a commit (for an annotated tag, the tag must point at a commit)",
  },
  unapproved: {
    rule: "production-stable only takes stable revisions that are, or were, deployable: each approved by QA, with everything before it",
    remedy:
      "push the deployable revision or an earlier approved stable revision (prodgate explain <rev>), or ask QA for verdicts (prodgate qa ok <rev>)",
  },
  renumbers: {
    rule: "a branch's old tip must stay on its new tip's first-parent chain, so no revision number ever changes",
    remedy:
      "your merge put your own side first: rebase your commits onto the branch (git rebase origin/<branch>), or check out the branch you are pushing to at its tip and git merge your work into it, then push",
  },
  frozen: {
    rule: "while production-stable is frozen, only a security promotion or an admin's override moves it",
    remedy: "wait for prodgate thaw (role admin or security); see prodgate status for who froze it and why",
  },
  "drops-fix": {
    rule: "a new tip of production-stable must hold the change of every recorded security fix that is not retired",
    remedy:
      "bring the fix's change back on stable (revert the revert, or redo the edit keeping the fix) and have it approved; or, if the fix is superseded, the security team retires it (prodgate security retire <fix> --reason <why>)",
  },
  "not-on-devel": {
    rule: "stable only advances to commits already on devel",
    remedy: "land the commits on devel first, then advance stable",
  },
  "role-required": {
    rule: "this change needs a role the pusher does not hold",
    remedy: "ask someone with the role, or an admin to grant it (prodgate role add <role> <user>)",
  },
  "no-ci-pass": {
    rule: "a security promotion needs a recorded CI pass for the promoted commit",
    remedy: "record the test run (prodgate ci pass <rev> or push a ci/pass/<label> tag), then promote",
  },
  "not-on-production-devel": {
    rule: "a security promotion may only bring commits from production-devel or approved stable",
    remedy: "push the fix to production-devel first, then promote that commit",
  },
  "bad-tag-name": {
    rule: "qa/, ci/ and deploy/ tags are named qa/<ok|bad|untestable|needstesting>/<label>, ci/<pass|fail>/<label> or deploy/<target>/<label>",
    remedy: "rename the tag, e.g. qa/ok/r42 or deploy/app3.prod/2026-11-29",
  },
  "unknown-target": {
    rule: "a deploy/<target>/<label> tag names one of the configured targets (prodgate.targets)",
    remedy: "use one of the targets the message lists, or ask an admin to add it (git config --add prodgate.targets <name>)",
  },
  "verdict-target": {
    rule: "a QA verdict names a commit on stable's mainline",
    remedy: "tag a revision listed by prodgate qa pending",
  },
  "verdict-label": {
    rule: "a verdict tag whose label is a revno (qa/ok/r42) must point at that revision: the label is what people read later",
    remedy: "tag the revision the label names, or give the tag a label that is not a revno",
  },
  "ticket-unreferenced": {
    rule: "a ticket verdict tag (qa/ok/ticket-N) records on the revisions awaiting production, at or before the tagged one, that reference the ticket: there must be one",
    remedy:
      "tag the stable revision QA tested, which holds the ticket's landings (prodgate qa pending --by-ticket lists them), or check the ticket id",
  },
  "tag-immutable": {
    rule: "verdict, CI and deploy tags are never deleted, and never moved but for a ticket verdict tag (qa/<verdict>/ticket-N), which the qa role moves for the ticket's next round",
    remedy:
      "push a new tag with another label (a later verdict replaces an earlier one); for a ticket, move its tag: git tag -f qa/ok/ticket-N <rev> && git push --force origin qa/ok/ticket-N",
  },
  "override-reason": {
    rule: "a break-glass override needs a reason",
    remedy: 'push with -o prodgate.override="<why>"',
  },
  "bad-revision-id": {
    rule: "a Bazaar revision on a governed branch has an id that cannot be told from a branch name, a revno or the null revision, or that holds control characters",
    remedy: "commit again with Breezy's own revision ids (brz commit makes them); do not set ids by hand",
  },
  "shadows-governed": {
    rule: "no ref may take a name that would keep a governed ref from being created (refs/tags/qa, refs/tags/ci, refs/tags/deploy, a ref inside or above a governed branch's name)",
    remedy: "choose another name; delete the ref if you already pushed it",
  },
  unavailable: {
    rule: "prodgate could not read what it needs to judge a governed ref, so it refuses",
    remedy: "run prodgate doctor on the server, or tell the repository's admin",
  },
} as const satisfies Record<string, CodeEntry>;

export const ACCEPT_CODES = {
  "fast-forward": { rule: "a fast-forward of a branch the pusher may write" },
  created: { rule: "a governed branch created by someone allowed to" },
  approved: { rule: "production-stable moved to approved stable content" },
  promotion: { rule: "a tested security promotion from production-devel" },
  verdict: { rule: "a QA verdict tag by the qa role" },
  "ci-result": { rule: "a CI result tag by the ci role" },
  deployment: { rule: "a deploy/<target>/<label> tag by the ops role: a deployment recorded" },
  override: { rule: "an admin's break-glass override, with its reason logged" },
} as const satisfies Record<string, CodeEntry>;

export type RejectionCode = keyof typeof REJECTION_CODES;
export type AcceptCode = keyof typeof ACCEPT_CODES;
export type DecisionCode = RejectionCode | AcceptCode;
