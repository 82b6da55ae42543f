import { branchRef, classifyRef } from "../policy/refs";
import { isZeroSha, type Verdict } from "../policy/types";
import type { RefUpdate } from "./facts";
import { faultPoint } from "./fault";
import { findEarlierReturns, markFixesPending, scanMergeBack } from "./mergeback";
import { runMirror } from "./mirror";
import { bringsSecurityFixes } from "../policy/fixes";
import { keptBadNote, recordTicketTag } from "./tickets";
import { recordLateCi, recordLateVerdict } from "./reconcile";
import { recordDeployTag } from "../ops/engine";
import { branchTips, type Engine, type Tips } from "./state";
import { tagSource } from "../store/store";

/** What the pusher is told of a tag a newer verdict or CI result overtook before post-receive recorded it. */
function supersededLine(ref: string): string {
  return `${ref} was not applied: a verdict or CI result given after it was accepted stands (prodgate log shows it as superseded)`;
}

/**
 * What post-receive does once refs have moved: record verdict and CI tags,
 * record security fixes a promotion brought, follow fixes back into devel and
 * stable, and run the mirror when what is deployable may have changed.
 * Returns the lines to show the pusher.
 */
export function afterPush(engine: Engine, updates: readonly RefUpdate[], user: string | null, pushId: string): string[] {
  const { repo, store, config } = engine;
  const lines: string[] = [];
  let mirrorNeeded = false;
  // Read only when a promotion needs stable's tip: a verdict tag push never does.
  let tips: Tips | null = null;
  const stableTip = () => (tips ??= branchTips(engine)).stable;

  for (const u of updates) {
    const cls = classifyRef(u.ref, config.branches, config.governed);
    if (isZeroSha(u.new)) continue;
    // A ticket verdict tag records again when QA moves it for the ticket's next round.
    if (cls.kind === "verdictTag" && cls.tag?.valid && (isZeroSha(u.old) || cls.tag.ticket !== undefined)) {
      const sha = repo.knownCommit(u.new) ?? repo.resolveCommit(u.new);
      if (!sha) continue;
      faultPoint("before-verdict-recorded");
      // A tag speaks as of its acceptance, as when sync records it late: a verdict recorded since by
      // a push accepted after this one (whose post-receive got there first) is newer and stands.
      const accepted = store.tagAcceptance(u.ref, pushId, u.new);
      if (cls.tag.ticket !== undefined) {
        const source = tagSource(u.ref, u.old, pushId);
        const tag = { ref: u.ref, target: sha, verdict: cls.tag.value as Verdict, ticket: cls.tag.ticket, source };
        const { recorded: found, keptBad } = recordTicketTag(engine, tag, user ?? "unknown", pushId, accepted);
        lines.push(
          found.length
            ? `prodgate: ${tag.verdict} for ticket ${tag.ticket} recorded on ${found.map((c) => `r${c.revno}`).join(", ")}`
            : `prodgate: no revision awaiting production references ticket ${tag.ticket} any more; nothing recorded`,
        );
        if (found.length && keptBad.length) lines.push(`prodgate: ${keptBadNote(keptBad)}`);
      } else {
        const record = { sha, verdict: cls.tag.value as Verdict, revno: repo.revno(sha), ref: u.ref };
        // Nothing newer (the usual case): recorded at once, taking effect at its acceptance, asking git nothing more.
        const overtaken = store.write(() => {
          if (accepted && store.verdictsAfter(accepted, [sha]).length > 0) return true;
          store.recordVerdicts([record], user ?? "unknown", `tag ${u.ref}`, pushId, accepted?.id);
          return false;
        });
        if (overtaken && recordLateVerdict(engine, accepted!, { ...record, source: `tag ${u.ref}` }, user ?? "unknown").superseded)
          lines.push(`prodgate: ${supersededLine(u.ref)}`);
      }
      faultPoint("after-verdict-recorded");
      mirrorNeeded = true;
    } else if (cls.kind === "ciTag" && cls.tag?.valid && isZeroSha(u.old)) {
      const sha = repo.resolveCommit(u.new);
      faultPoint("before-ci-recorded");
      const accepted = sha ? store.tagAcceptance(u.ref, pushId, u.new) : undefined;
      if (sha && accepted) {
        const tag = { ref: u.ref, sha, result: cls.tag.value as "pass" | "fail", source: `tag ${u.ref}` };
        if (recordLateCi(engine, accepted, tag, user ?? "unknown") === "superseded") lines.push(`prodgate: ${supersededLine(u.ref)}`);
      } else if (sha) store.recordCi(sha, cls.tag.value as "pass" | "fail", user ?? "unknown", `tag ${u.ref}`, pushId, u.ref);
    } else if (cls.kind === "deployTag" && cls.deploy?.valid && isZeroSha(u.old)) {
      faultPoint("before-deploy-recorded");
      const line = recordDeployTag(engine, u, cls.deploy.target, user ?? "unknown", pushId);
      if (line) lines.push(line);
    } else if (cls.kind === "productionStable") {
      faultPoint("before-fixes-recorded");
      if (bringsSecurityFixes(store.updateDecision(pushId, u.ref, u.old, u.new))) {
        const notes: string[] = [];
        const added = recordPromotedFixes(engine, u, stableTip(), user ?? "unknown", pushId, notes);
        if (added > 0) lines.push(`prodgate: recorded ${added} security fix(es); they are tracked until they are back in devel and stable`);
        lines.push(...notes);
      } else {
        const exclude = [u.old, stableTip()].filter((x): x is string => !!x && !isZeroSha(x));
        const lacking = repo.count([u.new], exclude);
        if (lacking > 0)
          lines.push(
            `prodgate: the override brought ${lacking} commit(s) that stable lacks: not security fixes; they stay listed under the override until QA has judged them (prodgate overrides)`,
          );
      }
      mirrorNeeded = true;
    } else if (cls.kind === "stable") {
      mirrorNeeded = true;
    }
  }

  for (const branch of ["devel", "stable"] as const) {
    const ref = branchRef(config.branches[branch]);
    // Where this push left the branch: a later push scans on from there.
    const tip = updates.find((u) => u.ref === ref && !isZeroSha(u.new))?.new;
    if (tip) {
      const found = scanMergeBack(engine, branch, tip, user, pushId, lines);
      if (found > 0) lines.push(`prodgate: ${found} security fix(es) recorded as back in ${branch}`);
    }
  }

  markFixesPending(engine);
  faultPoint("before-mirror");
  if (mirrorNeeded) lines.push(`prodgate: ${runMirror(engine, `push ${pushId}`, user).line}`);
  // The page's renderer is loaded only where a report is published.
  const reportFailure = config.reportPath
    ? (require("../report/publish") as typeof import("../report/publish")).publishReport(engine)
    : null;
  if (reportFailure) lines.push(reportFailure);
  return lines;
}

/**
 * Record as security fixes the commits an update of production-stable brought
 * that stable lacks, and which of them devel and stable hold already (a fix
 * picked there before it was promoted). `notes` collects lines for the pusher.
 */
export function recordPromotedFixes(
  engine: Engine,
  u: RefUpdate,
  stableTip: string | null,
  user: string,
  pushId: string | null,
  notes?: string[],
): number {
  const { repo, store, config } = engine;
  const exclude = [u.old, stableTip].filter((x): x is string => !!x && !isZeroSha(x));
  const fixes = repo.commits([u.new], exclude, { noMerges: true });
  if (fixes.length === 0) return 0;
  const ids = repo.patchIds([u.new], exclude);
  const added = store.addFixes(
    fixes.map((c) => ({ sha: c.sha, subject: c.subject, patchId: ids.get(c.sha) ?? null })),
    user,
    pushId,
  );
  const develRef = branchRef(config.branches.devel);
  const develTip = repo.refTips([develRef]).get(develRef) ?? null;
  const already = findEarlierReturns(
    engine,
    fixes.map((c) => c.sha),
    { devel: develTip, stable: stableTip },
    pushId,
    notes,
  );
  if (already > 0)
    notes?.push(`prodgate: ${already} of them already back in devel or stable (picked or merged there before the promotion)`);
  return added;
}
