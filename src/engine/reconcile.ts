import { branchRef, classifyRef } from "../policy/refs";
import type { CiResult, Verdict } from "../policy/types";
import { recordPromotedFixes } from "./after-push";
import { branchTips, type Engine } from "./state";

/**
 * Record the verdict and CI tags that pre-receive accepted but post-receive
 * never recorded (it was killed, or the database was unavailable). Only tags
 * with an 'accepted' audit row count, and only while the tag still names the
 * object that was accepted: a tag pre-receive never saw is never imported.
 * Returns how many were recorded.
 */
export function reconcileTags(engine: Engine): number {
  const { repo, store, config } = engine;
  const pending = store.unrecordedTagAcceptances();
  if (pending.length === 0) return 0;
  const refs = [...new Set(pending.map((a) => a.ref!))];
  const tips = repo.refTips(refs);
  let recorded = 0;
  for (const a of pending) {
    const ref = a.ref!;
    if (!a.new || tips.get(ref) !== a.new) continue;
    const cls = classifyRef(ref, config.branches, config.governed);
    if (!cls.tag?.valid) continue;
    const sha = repo.resolveCommit(a.new);
    if (!sha) continue;
    const user = a.user ?? "unknown";
    const source = `tag ${ref}`;
    if (cls.kind === "verdictTag") {
      recorded += store.recordVerdicts([{ sha, verdict: cls.tag.value as Verdict, revno: repo.revno(sha), ref }], user, source, a.pushId);
    } else if (cls.kind === "ciTag") {
      if (store.recordCi(sha, cls.tag.value as CiResult, user, source, a.pushId ?? null, ref)) recorded++;
    }
  }
  return recorded;
}

/**
 * Record the security fixes of promotions that landed but whose post-receive
 * never recorded them. Recording is idempotent (a fix is keyed by its sha).
 */
export function reconcileFixes(engine: Engine): number {
  const { repo, store, config } = engine;
  const tips = branchTips(engine);
  if (!tips.productionStable) return 0;
  let recorded = 0;
  for (const a of store.promotionsWithoutFixes(branchRef(config.branches.productionStable))) {
    if (!a.new || !a.old || !repo.isAncestor(a.new, tips.productionStable)) continue;
    recorded += recordPromotedFixes(engine, { ref: a.ref!, old: a.old, new: a.new }, tips.stable, a.user ?? "unknown", a.pushId ?? null);
  }
  return recorded;
}
