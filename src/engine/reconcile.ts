import { classifyRef } from "../policy/refs";
import type { CiResult, Verdict } from "../policy/types";
import type { Engine } from "./state";

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
