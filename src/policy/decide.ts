import type { AcceptCode, DecisionCode, RejectionCode } from "./codes";
import type { RefClass } from "./refs";
import { isZeroSha, shortSha, type CommitInfo, type MainlineCommit, type Role } from "./types";
import { clip, MAX_LISTED_COMMITS, USER_TEXT_MAX } from "./message";
import { decideDeployTag, deployTagPrecheck } from "../ops/deploy-tag";
import { describeDropped } from "./fixes";

/** A commit named in a decision, with the verdict QA gave it if it has one. */
export interface ListedCommit extends CommitInfo {
  verdict?: string;
}

export interface CommitList {
  commits: ListedCommit[];
  total: number;
}

/** Facts about a push to production-stable, all measured before the push. */
export interface ProductionFacts {
  deployable: MainlineCommit | null;
  /**
   * The new tip is a mainline commit of stable that is, or was, a deployable
   * revision (deployableRevision's candidates), or is at or behind the base.
   */
  tipIsApproved: boolean;
  /** New commits not in the deployable revision's history. */
  unapproved: CommitList;
  /** The new tip is on production-devel. */
  onProductionDevel: boolean;
  /** New commits on neither production-devel nor approved stable content. */
  outsideBoth: CommitList;
  ciPassed: boolean;
  /**
   * Recorded security fixes, not retired, whose change the new tip does not
   * hold (asked only of a tip that would otherwise be taken).
   */
  dropsFixes?: { sha: string; subject: string }[];
}

export interface UpdateFacts {
  ref: string;
  old: string;
  new: string;
  class: RefClass;
  isCreate: boolean;
  isDelete: boolean;
  /** Type of the object the ref would point at (null on delete). */
  newType: string | null;
  /** old is an ancestor of new (true on create). */
  isFastForward: boolean;
  /**
   * The old tip is on the new tip's first-parent chain (true on create): false
   * for a "foxtrot" merge, whose first parent is the pusher's own side.
   */
  keepsFirstParent: boolean;
  /** stable: the new tip is already on devel. */
  onDevel?: boolean;
  production?: ProductionFacts;
  /** Verdict tags: the mainline commit of stable the tag points at, or null. */
  verdictTarget?: MainlineCommit | null;
  /** Ticket verdict tags: the revisions awaiting production, at or before the target, that reference the ticket, oldest first. */
  ticketRevisions?: MainlineCommit[];
  /** Ticket verdict tags: revisions that reference the ticket and stay bad (an ok by ticket does not clear them; policy/tickets.ts ticketVerdictTargets). */
  ticketKeptBad?: MainlineCommit[];
  /** CI tags: the commit the tag points at, or null. */
  ciTarget?: string | null;
  /** Deploy tags: the commit the tag points at, or null. */
  deployTarget?: string | null;
}

export interface PushContext {
  user: string | null;
  roles: ReadonlySet<Role>;
  /** Reason given with -o prodgate.override=…; "" when the option was given empty. */
  overrideReason: string | null;
  requireCi: boolean;
  stableWriters: "anyone" | "ci";
  /** Set while production-stable is frozen (prodgate freeze). */
  freeze: { by: string; reason: string } | null;
  /** prodgate.targets: the only targets a deploy tag may name (any plain name when empty or absent). */
  targets?: readonly string[];
}

export interface Decision {
  ref: string;
  old: string;
  new: string;
  accepted: boolean;
  code: DecisionCode;
  /** One line saying why. */
  reason: string;
  /** Commits to show the pusher. */
  commits?: CommitList;
  /** Extra lines (e.g. the deployable revision). */
  details?: string[];
  /** Set when an admin override turned a rejection into an acceptance. */
  overrode?: { code: RejectionCode; reason: string };
}

function accept(f: UpdateFacts, code: AcceptCode, reason: string): Decision {
  return { ref: f.ref, old: f.old, new: f.new, accepted: true, code, reason };
}

function reject(f: UpdateFacts, code: RejectionCode, reason: string, extra: Partial<Decision> = {}): Decision {
  return { ref: f.ref, old: f.old, new: f.new, accepted: false, code, reason, ...extra };
}

function needsRole(f: UpdateFacts, ctx: PushContext, role: Role, what: string): Decision | null {
  if (ctx.roles.has(role)) return null;
  return reject(f, "role-required", `${what} needs the ${role} role, which ${ctx.user} does not hold`);
}

function branchShape(f: UpdateFacts): Decision | null {
  if (f.isDelete) return reject(f, "delete-protected", `${f.ref} is never deleted`);
  if (f.newType !== "commit") return reject(f, "not-a-commit", `${f.ref} would point at a ${f.newType}, not a commit`);
  if (!f.isFastForward) return reject(f, "non-fast-forward", `${f.ref} would lose commits: the new tip does not contain the old one`);
  if (RENUMBERED_KINDS.has(f.class.kind) && !f.keepsFirstParent) {
    const why = f.isCreate
      ? `${f.ref} would come back with another history: the tip it had before an override deleted it is not on the first-parent chain of ${shortSha(f.new)}`
      : `${f.ref} would renumber its revisions: ${shortSha(f.old)} is not on the first-parent chain of ${shortSha(f.new)} (a merge that put the pusher's own side first)`;
    return reject(f, "renumbers", why);
  }
  return null;
}

/** The branches whose first-parent chain gives revision numbers, or is compared by them. */
const RENUMBERED_KINDS = new Set<RefClass["kind"]>(["devel", "stable", "productionStable", "productionDevel"]);

/** A new tip of production-stable that would otherwise be taken, refused when it drops a security fix's change. */
function dropsFix(f: UpdateFacts): Decision | null {
  const dropped = f.production?.dropsFixes ?? [];
  if (dropped.length === 0) return null;
  return reject(f, "drops-fix", describeDropped(dropped, f.new), {
    details: dropped
      .slice(0, MAX_LISTED_COMMITS)
      .map((d) => `security fix ${shortSha(d.sha)} ${clip(d.subject, USER_TEXT_MAX)}: its change is not in ${shortSha(f.new)}`),
  });
}

function decideProduction(f: UpdateFacts, ctx: PushContext): Decision {
  const p = f.production!;
  const d = p.deployable;
  const deployableLine = d
    ? `deployable now: r${d.revno} ${shortSha(d.sha)} ${clip(d.subject, USER_TEXT_MAX)}`
    : "nothing on stable is deployable yet";
  const freezeLine = ctx.freeze ? [`production-stable is frozen by ${ctx.freeze.by}: ${ctx.freeze.reason}`] : [];
  if (p.unapproved.total === 0 && p.tipIsApproved) {
    if (ctx.freeze) {
      return reject(f, "frozen", `production-stable is frozen by ${ctx.freeze.by} (${ctx.freeze.reason})`, { details: [deployableLine] });
    }
    return dropsFix(f) ?? accept(f, "approved", "approved stable content");
  }
  // Not an approved stable revision: only a security promotion can carry it.
  const security = ctx.roles.has("security");
  if (security && p.onProductionDevel && p.outsideBoth.total === 0) {
    if (ctx.requireCi && !p.ciPassed) {
      return reject(f, "no-ci-pass", `no CI pass is recorded for ${shortSha(f.new)}`, { details: freezeLine });
    }
    return dropsFix(f) ?? accept(f, "promotion", `security promotion of ${p.unapproved.total} commit(s)`);
  }
  if (security && p.unapproved.total > 0) {
    return reject(
      f,
      "not-on-production-devel",
      `${p.outsideBoth.total || p.unapproved.total} new commit(s) on neither production-devel nor approved stable`,
      { commits: p.outsideBoth.total > 0 ? p.outsideBoth : p.unapproved, details: [deployableLine, ...freezeLine] },
    );
  }
  if (p.unapproved.total > 0) {
    return reject(f, "unapproved", `${p.unapproved.total} new commit(s) not approved by QA`, {
      commits: p.unapproved,
      details: [deployableLine, ...freezeLine],
    });
  }
  return reject(f, "unapproved", `${shortSha(f.new)} is not a stable revision that is or was deployable`, {
    details: [deployableLine, ...freezeLine],
  });
}

/** The checks of a verdict or CI tag that need no fact from git: its name, its shape, the pusher's role. */
function tagPrecheck(f: Pick<UpdateFacts, "ref" | "old" | "new" | "class" | "isCreate" | "isDelete">, ctx: PushContext): Decision | null {
  const tag = f.class.tag!;
  const isQa = tag.namespace === "qa";
  const facts = f as UpdateFacts;
  if (tag.looksLikeTicket) {
    return reject(
      facts,
      "bad-tag-name",
      `${f.ref} looks like a ticket verdict tag but is not one: a ticket tag is qa/<verdict>/ticket-<id>, "ticket-" in lower case (qa/${tag.value}/ticket-7); a revision verdict's label must not start with "ticket"`,
    );
  }
  if (!tag.valid) {
    return reject(
      facts,
      "bad-tag-name",
      `${f.ref} is not qa/<ok|bad|untestable|needstesting>/<label> (a ticket: qa/<verdict>/ticket-<id>) or ci/<pass|fail>/<label>`,
    );
  }
  // A ticket tag's name is its key: QA moves it for the ticket's next round (a new verdict, bounded by its new revision).
  const round =
    isQa && tag.ticket !== undefined
      ? `; for the ticket's next round, move it: git tag -f ${f.ref.replace(/^refs\/tags\//, "")} <rev> && git push --force origin ${f.ref}`
      : "";
  if (f.isDelete)
    return reject(facts, "tag-immutable", `${f.ref} records a ${isQa ? "verdict" : "CI result"}; it is never deleted${round}`);
  if (!f.isCreate && !round) {
    const instead = isQa
      ? `; give the new verdict a tag of its own (qa/${tag.value}/<another label>) or run prodgate qa ${tag.value} <rev>`
      : "";
    return reject(facts, "tag-immutable", `${f.ref} already exists; verdict tags on a revision and CI tags never move${instead}`);
  }
  return needsRole(facts, ctx, isQa ? "qa" : "ci", isQa ? "a QA verdict" : "a CI result");
}

function decideTag(f: UpdateFacts, ctx: PushContext): Decision {
  const tag = f.class.tag!;
  const isQa = tag.namespace === "qa";
  const early = tagPrecheck(f, ctx);
  if (early) return early;
  if (isQa) {
    if (!f.verdictTarget) {
      return reject(f, "verdict-target", `${f.ref} points at ${shortSha(f.new)}, which is not a mainline commit of stable`);
    }
    if (tag.ticket !== undefined) {
      const found = f.ticketRevisions ?? [];
      if (found.length === 0) {
        return reject(
          f,
          "ticket-unreferenced",
          `no revision awaiting production up to r${f.verdictTarget.revno} ${shortSha(f.verdictTarget.sha)} references ticket ${tag.ticket}`,
        );
      }
      const listed = found.slice(0, MAX_LISTED_COMMITS).map((c) => `r${c.revno}`);
      const more = found.length > listed.length ? ` and ${found.length - listed.length} more` : "";
      const kept = f.ticketKeptBad?.length
        ? `; ${f.ticketKeptBad
            .slice(0, MAX_LISTED_COMMITS)
            .map((c) => `r${c.revno}`)
            .join(", ")} stay(s) bad (roll back or judge on its own)`
        : "";
      return accept(f, "verdict", `${tag.value} for ticket ${tag.ticket}: ${listed.join(", ")}${more}${kept}`);
    }
    const named = /^r([0-9]{1,15})$/i.exec(tag.label);
    if (named && Number(named[1]) !== f.verdictTarget.revno) {
      return reject(
        f,
        "verdict-label",
        `${f.ref} is labelled r${Number(named[1])} but points at r${f.verdictTarget.revno} ${shortSha(f.verdictTarget.sha)}`,
      );
    }
    return accept(f, "verdict", `${tag.value} for r${f.verdictTarget.revno} ${shortSha(f.verdictTarget.sha)}`);
  }
  if (!f.ciTarget) return reject(f, "not-a-commit", `${f.ref} does not point at a commit`);
  return accept(f, "ci-result", `CI ${tag.value} for ${shortSha(f.ciTarget)}`);
}

function decideBranch(f: UpdateFacts, ctx: PushContext): Decision {
  const shape = branchShape(f);
  if (shape) return shape;
  const ok = (): Decision => (f.isCreate ? accept(f, "created", `${f.ref} created`) : accept(f, "fast-forward", "fast-forward"));
  switch (f.class.kind) {
    case "stable": {
      if (ctx.stableWriters === "ci") {
        const role = needsRole(f, ctx, "ci", "advancing stable");
        if (role) return role;
      }
      if (!f.onDevel) return reject(f, "not-on-devel", `${shortSha(f.new)} is not on devel`);
      return ok();
    }
    case "productionDevel":
      return needsRole(f, ctx, "security", "changing production-devel") ?? ok();
    case "productionStable":
      return decideProduction(f, ctx);
    default:
      return ok();
  }
}

/** Decide one update of a governed ref, before any override. */
export function decideUpdate(f: UpdateFacts, ctx: PushContext): Decision {
  if (!ctx.user) return reject(f, "no-identity", "no user identity was given to the server");
  if (f.class.kind === "verdictTag" || f.class.kind === "ciTag") return decideTag(f, ctx);
  if (f.class.kind === "deployTag") return deployTagPrecheck(f, ctx) ?? decideDeployTag(f);
  return decideBranch(f, ctx);
}

/** Apply the break-glass override: only an admin, only with a reason. */
export function applyOverride(decision: Decision, ctx: PushContext): Decision {
  if (decision.accepted || ctx.overrideReason === null || decision.code === "no-identity") return decision;
  if (!ctx.roles.has("admin")) {
    // The repository's owner counts as admin for the admin command only: on a hosting service every push runs as the owner's account.
    return {
      ...decision,
      details: [
        ...(decision.details ?? []),
        `the override was ignored: only the admin role may use it, and ${ctx.user ?? "the pusher"} does not hold it (an admin, or the repository's owner, can run: prodgate role add admin ${ctx.user ?? "<user>"})`,
      ],
    };
  }
  if (ctx.overrideReason.trim() === "") {
    return { ...decision, code: "override-reason", reason: "the override names no reason", overrode: undefined };
  }
  return {
    ...decision,
    accepted: true,
    code: "override",
    reason: ctx.overrideReason.trim(),
    overrode: { code: decision.code as RejectionCode, reason: decision.reason },
  };
}

export function decide(f: UpdateFacts, ctx: PushContext): Decision {
  return applyOverride(decideUpdate(f, ctx), ctx);
}

/**
 * The decision of an update that needs no fact from git — no identity, or a
 * verdict or CI tag its pusher may not push (bad name, moved, deleted,
 * missing role) — else null. Lets a hook refuse such updates, however many,
 * before it asks git anything; it is the answer decide() gives them.
 */
export function decideWithoutFacts(u: { ref: string; old: string; new: string; class: RefClass }, ctx: PushContext): Decision | null {
  const f: UpdateFacts = {
    ...u,
    isCreate: isZeroSha(u.old),
    isDelete: isZeroSha(u.new),
    newType: null,
    isFastForward: false,
    keepsFirstParent: false,
  };
  if (!ctx.user) return decide(f, ctx);
  if (u.class.kind === "deployTag") {
    const early = deployTagPrecheck(f, ctx);
    return early ? applyOverride(early, ctx) : null;
  }
  if (u.class.kind !== "verdictTag" && u.class.kind !== "ciTag") return null;
  const early = tagPrecheck(f, ctx);
  return early ? applyOverride(early, ctx) : null;
}
