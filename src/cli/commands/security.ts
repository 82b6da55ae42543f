import { UserError } from "../../errors";
import { withMirrorLock } from "../../engine/lock";
import { runMirror } from "../../engine/mirror";
import { listOverrides, type OverrideRecord } from "../../engine/overrides";
import { printable } from "../../policy/message";
import { branchTips } from "../../engine/state";
import { now, type Reached, type SecurityFix } from "../../store/store";
import { type CommandContext, plainValue, requireRole } from "../context";
import { age, short } from "../format";

const where = (r: Reached | null) => (r ? { sha: r.sha, at: r.at, how: r.how } : null);

export function securityCommand(ctx: CommandContext, opts: { pending?: boolean; maxAge?: string }): number {
  let maxAgeDays: number | null = null;
  if (opts.maxAge !== undefined) {
    maxAgeDays = Number(opts.maxAge);
    if (!Number.isFinite(maxAgeDays) || maxAgeDays < 0) throw new UserError(`--max-age takes a number of days, not "${opts.maxAge}"`, 2);
  }
  const all = ctx.engine.store.fixes();
  const disputed = ctx.json ? [] : ctx.engine.store.disputedClaims();
  const reverted = ctx.json ? [] : ctx.engine.store.revertedFixes();
  const isPending = (f: SecurityFix) => !f.devel || !f.stable;
  // Oldest pending first, then those already home.
  const fixes = opts.pending ? all.filter(isPending) : [...all.filter(isPending), ...all.filter((f) => !isPending(f))];
  const tooOld =
    maxAgeDays === null ? [] : all.filter((f) => isPending(f) && Date.now() - Date.parse(f.promotedAt) > maxAgeDays! * 86_400_000);
  if (ctx.json) {
    ctx.print(
      JSON.stringify(
        fixes.map((f) => ({
          sha: f.sha,
          subject: f.subject,
          promotedBy: f.promotedBy,
          promotedAt: f.promotedAt,
          devel: where(f.devel),
          stable: where(f.stable),
          retired: f.retired ? { by: f.retired.by, at: f.retired.at, reason: f.retired.reason } : null,
        })),
        null,
        2,
      ),
    );
  } else if (fixes.length === 0) {
    ctx.print(opts.pending ? "no security fix is pending" : "no security fix recorded");
  } else {
    for (const f of fixes) {
      const at = (r: Reached | null) => (r ? `${short(r.sha)} by ${r.how}` : "not yet");
      ctx.print(
        `${short(f.sha)} ${printable(f.subject)}\n  promoted by ${f.promotedBy} ${age(f.promotedAt)} ago; devel: ${at(f.devel)}; stable: ${at(f.stable)}`,
      );
      if (f.retired) {
        ctx.print(
          `  retired by ${printable(f.retired.by)} ${age(f.retired.at)} ago: ${printable(f.retired.reason)} (production-stable need not hold it)`,
        );
      }
      for (const r of reverted.filter((x) => x.fix === f.sha && !f[x.branch])) {
        ctx.print(`  merged into ${r.branch}, then reverted (or its change lost) in ${short(r.commit)}: not back`);
      }
      for (const c of disputed.filter((d) => d.fix === f.sha && !f[d.branch])) {
        ctx.print(`  ${short(c.commit)} on ${c.branch} says it is a cherry-pick of this fix, but ${c.branch} did not hold its change`);
      }
    }
  }
  if (!ctx.json) for (const line of overrideContent(ctx)) ctx.print(line);
  if (tooOld.length > 0) {
    process.stderr.write(`prodgate: ${tooOld.length} security fix(es) pending for more than ${maxAgeDays} day(s)\n`);
    return 1;
  }
  return 0;
}

/**
 * What overrides put on production-stable that stable lacks: shown apart,
 * under each override, since it is no security fix and is not tracked as one.
 */
function overrideContent(ctx: CommandContext): string[] {
  const lines: string[] = [];
  let overrides: OverrideRecord[];
  try {
    overrides = listOverrides(ctx.engine);
  } catch {
    // The fixes above need no history; what overrides brought does (prodgate overrides says it, or why not).
    return ["(what overrides put on production-stable could not be read now: see prodgate overrides)"];
  }
  for (const o of overrides) {
    const lacking = o.commits.filter((c) => c.verdict === "not-on-stable");
    if (lacking.length === 0) continue;
    if (lines.length === 0) lines.push("not security fixes: commits that overrides put on production-stable and stable lacks");
    lines.push(`  override #${o.id} by ${printable(o.user ?? "(unknown)")} ${age(o.at)} ago: ${printable(o.why)}`);
    for (const c of lacking) lines.push(`    ${short(c.sha)} ${printable(c.subject)}`);
  }
  return lines;
}

/** The recorded security fix `given` (its sha or a unique prefix, SHA-1 or SHA-256) names; a clear error otherwise. */
function recordedFix(ctx: CommandContext, given: string): SecurityFix {
  const wanted = given.toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(wanted)) throw new UserError(`"${printable(given)}" is not a security fix's sha (4 to 64 hex digits)`, 2);
  const matches = ctx.engine.store.fixes().filter((f) => f.sha.startsWith(wanted));
  if (matches.length === 0) throw new UserError(`no security fix ${wanted} is recorded (prodgate security lists them)`, 1);
  if (matches.length > 1) throw new UserError(`${wanted} names ${matches.length} security fixes; give more of the sha`, 2);
  return matches[0]!;
}

/**
 * Mark a security fix back in devel or stable by hand: for a change that came
 * back in a shape none of prodgate's checks recognises (reshaped by a
 * conflict's resolution, or edited further in the same push), so it is not
 * pending for good. Role admin or security; audited with the reason.
 */
export function securityAckCommand(ctx: CommandContext, given: string, branch: string, reason: string | undefined): number {
  const user = requireRole(ctx, ["admin", "security"], "acknowledging a security fix back by hand");
  if (branch !== "devel" && branch !== "stable") throw new UserError(`the branch is devel or stable, not "${printable(branch)}"`, 2);
  if (!reason || reason.trim() === "") throw new UserError(`say why: prodgate security ack <fix> ${branch} --reason "<why>"`, 2);
  plainValue(reason, "--reason");
  const { store } = ctx.engine;
  const fix = recordedFix(ctx, given);
  const already = fix[branch];
  if (already) {
    ctx.print(
      ctx.json
        ? JSON.stringify({ fix: fix.sha, branch, changed: false, reached: where(already) })
        : `${short(fix.sha)} is already back in ${branch} (${short(already.sha)} by ${already.how}); nothing changed`,
    );
    return 0;
  }
  const tip = branchTips(ctx.engine)[branch];
  if (!tip) throw new UserError(`${branch} does not exist yet: there is nothing the fix could be back in`, 1);
  const reached: Reached = { sha: tip, at: now(), how: "acknowledged", by: user };
  const changed = store.markFixReached(branch, fix.sha, reached, null, reason.trim());
  ctx.print(
    ctx.json
      ? JSON.stringify({ fix: fix.sha, branch, changed, reached: where(reached) })
      : changed
        ? `${short(fix.sha)} ${printable(fix.subject)}: acknowledged back in ${branch} at ${short(tip)} by ${user}`
        : `${short(fix.sha)} was marked back in ${branch} meanwhile; nothing changed`,
  );
  return 0;
}

/**
 * Retire a security fix: production-stable no longer has to hold its change
 * (superseded by a later fix, say), so a move that drops it is taken again.
 * Role admin or security; audited with the reason. The mirror then runs, under
 * its lock like a verdict, since what it may deploy has changed.
 */
export function securityRetireCommand(ctx: CommandContext, given: string, reason: string | undefined): number {
  const user = requireRole(ctx, ["admin", "security"], "retiring a security fix");
  if (!reason || reason.trim() === "") throw new UserError(`say why: prodgate security retire <fix> --reason "<why>"`, 2);
  plainValue(reason, "--reason");
  const { store } = ctx.engine;
  const fix = recordedFix(ctx, given);
  const retiredBefore = fix.retired;
  const { changed, mirror } = withMirrorLock(ctx.engine.repo.gitDir, () => {
    const changed = retiredBefore ? false : store.retireFix(fix.sha, user, reason.trim());
    return { changed, mirror: changed ? runMirror(ctx.engine, "security retire", user) : null };
  });
  const retired = store.fixes().find((f) => f.sha === fix.sha)?.retired ?? null;
  if (ctx.json) {
    ctx.print(JSON.stringify({ fix: fix.sha, changed, retired, mirror }, null, 2));
  } else {
    ctx.print(
      changed
        ? `${short(fix.sha)} ${printable(fix.subject)}: retired by ${user}; production-stable no longer has to hold its change`
        : `${short(fix.sha)} was already retired${retired ? ` by ${printable(retired.by)}` : ""}; nothing changed`,
    );
    if (mirror) ctx.print(mirror.line);
  }
  return mirror?.outcome === "conflict" ? 1 : 0;
}
