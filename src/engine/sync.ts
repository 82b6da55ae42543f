import { branchRef } from "../policy/refs";
import { withMirrorLock } from "./lock";
import { markFixesPending, scanMergeBack } from "./mergeback";
import { type MirrorOutcome, runMirror } from "./mirror";
import { reconcileFixes, reconcileLandings, reconcileTags } from "./reconcile";
import { branchTips, type Engine } from "./state";
import { publishReport } from "../report/publish";

export interface SyncResult {
  mirror: MirrorOutcome;
  fixesBack: { devel: number; stable: number };
  /** Verdict and CI tags recorded now because post-receive never did. */
  tagsRecorded: number;
  /** Security fixes of promotions recorded now because post-receive never did. */
  fixesRecorded: number;
  lines: string[];
}

/** The cron backstop: catch up on merge-back and run the mirror. Safe at any time, concurrently. */
export function syncAll(engine: Engine, user: string | null): SyncResult {
  // Before the merge-back scan, so a fix recorded late is looked for in the commits the scan sees.
  const fixesRecorded = reconcileFixes(engine);
  reconcileLandings(engine);
  const tips = branchTips(engine);
  const fixesBack = { devel: 0, stable: 0 };
  for (const branch of ["devel", "stable"] as const) {
    const tip = tips[branch];
    if (tip) fixesBack[branch] = engine.store.write(() => scanMergeBack(engine, branch, tip, user, null));
  }
  markFixesPending(engine);
  // Tags recorded late change what is deployable: serialised with the mirror, like any verdict.
  const tagNotes: string[] = [];
  const { tagsRecorded, mirror } = withMirrorLock(engine.repo.gitDir, () => ({
    tagsRecorded: reconcileTags(engine, tagNotes),
    mirror: runMirror(engine, "sync", user),
  }));
  const lines = [...tagNotes, mirror.line];
  if (fixesRecorded > 0) lines.unshift(`recorded ${fixesRecorded} security fix(es) of a promotion that were never recorded`);
  if (tagsRecorded > 0) lines.unshift(`recorded ${tagsRecorded} verdict, CI or deploy tag(s) that were accepted but never recorded`);
  for (const branch of ["devel", "stable"] as const) {
    if (fixesBack[branch] > 0)
      lines.push(
        `${fixesBack[branch]} security fix(es) now recorded as back in ${engine.config.branches[branch]} (${branchRef(engine.config.branches[branch])})`,
      );
  }
  const overdue = raiseOverdueFixes(engine);
  if (overdue > 0)
    lines.push(`${overdue} security fix(es) pending longer than ${engine.config.events.fixMaxAgeDays} days: fix.overdue raised`);
  const reportFailure = publishReport(engine);
  if (reportFailure) lines.push(reportFailure);
  return { mirror, fixesBack, tagsRecorded, fixesRecorded, lines };
}

/** fix.overdue for each fix pending longer than prodgate.fixMaxAgeDays, once per fix and day. */
function raiseOverdueFixes(engine: Engine): number {
  const limitMs = engine.config.events.fixMaxAgeDays * 86_400_000;
  const nowMs = Date.now();
  const overdue = engine.store
    .fixes()
    .filter((f) => (!f.devel || !f.stable) && nowMs - Date.parse(f.promotedAt) > limitMs)
    .map((f) => ({
      sha: f.sha,
      subject: f.subject,
      promotedAt: f.promotedAt,
      days: Math.floor((nowMs - Date.parse(f.promotedAt)) / 86_400_000),
      missing: [...(f.devel ? [] : ["devel"]), ...(f.stable ? [] : ["stable"])],
    }));
  return overdue.length > 0 ? engine.store.raiseOverdue(overdue) : 0;
}
