// Whose [no-qa]/[testfix]/[incr] markers count (prodgate.markers.trust): the facts
// the deployable walk takes, and their recording when a trusted user pushes.
import type { Decision } from "../policy/decide";
import { carriesTrustedMarker, type MarkerTrust } from "../policy/deployable";
import { branchRef, type RefClass } from "../policy/refs";
import { type CommitInfo, isZeroSha, type MainlineCommit, type Role } from "../policy/types";
import type { RefUpdate } from "./facts";
import type { Engine } from "./state";

/** The markers the walk may honour for these commits: everyone's, or those a holder of the trusted role pushed. */
export function markerTrust(engine: Pick<Engine, "config" | "store">, segment: readonly MainlineCommit[]): MarkerTrust {
  const role = engine.config.markersTrust;
  if (role === "anyone") return "anyone";
  const marked = segment.filter((c) => carriesTrustedMarker(c.message)).map((c) => c.sha);
  return engine.store.trustedMarkers(marked, role);
}

/**
 * After an accepted push by a holder of the trusted role: remember the
 * marker-carrying commits it brings onto devel or stable that neither had
 * before. A commit someone else first put on devel keeps an untrusted marker
 * even when the trusted user later advances stable to it, so a landing
 * robot that only moves stable never vouches for what others wrote. Only
 * the commits the push puts on the branch's first-parent chain are vouched
 * for: a developer's commit that a landing merges in beside it is not, nor
 * is the merge itself (its marker would vouch for that commit).
 */
export function recordTrustedMarkers(
  engine: Engine,
  updates: readonly { update: RefUpdate; cls: RefClass }[],
  decisions: readonly Decision[],
  user: string | null,
  roles: ReadonlySet<Role>,
  pushId: string | null,
): number {
  const { repo, store, config } = engine;
  const role = config.markersTrust;
  if (role === "anyone" || !user || !roles.has(role)) return 0;
  let recorded = 0;
  updates.forEach(({ update, cls }, i) => {
    if ((cls.kind !== "devel" && cls.kind !== "stable") || isZeroSha(update.new) || !decisions[i]?.accepted) return;
    const develRef = branchRef(config.branches.devel);
    const exclude = isZeroSha(update.old) ? [] : [update.old];
    if (cls.kind === "stable") {
      // stable only takes commits already on devel: nothing new, unless an override brought it.
      if (decisions[i]!.code !== "override") return;
      exclude.push(develRef);
    }
    // A merge's marker would pass everything it brings beside, and its message often copies the
    // side's own subjects (merge.log, a merged tag's message): only single-parent commits are vouched for.
    const added = mainlineOf(repo.commits([update.new], exclude), update.new).filter(
      (c) => c.parents.length <= 1 && carriesTrustedMarker(c.message),
    );
    store.recordTrustedMarkers(
      added.map((c) => c.sha),
      role,
      user,
      update.ref,
      pushId,
    );
    recorded += added.length;
  });
  return recorded;
}

/** The commits of `added` on `tip`'s first-parent chain, newest first, as far as the chain stays inside `added`. */
export function mainlineOf(added: readonly CommitInfo[], tip: string): CommitInfo[] {
  const bySha = new Map(added.map((c) => [c.sha, c]));
  const chain: CommitInfo[] = [];
  for (let c = bySha.get(tip); c && chain.length < added.length; c = bySha.get(c.parents[0] ?? "")) chain.push(c);
  return chain;
}
