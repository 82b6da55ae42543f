// Operations, the engine side: asks git what a revision holds and records
// deployments and cowboys. The rules it applies are in rules.ts; the fix
// matching is the security fixes' own (engine/mergeback.ts, policy/fixes.ts).
import { UserError } from "../errors";
import { fixReturnsIn } from "../engine/mergeback";
import { currentFreeze } from "../engine/mirror";
import { resolveCommitSpec } from "../engine/revs";
import { branchTips, type Engine } from "../engine/state";
import { judgedSegment } from "../engine/tickets";
import { parseRevSpec } from "../policy/revspec";
import { shortSha } from "../policy/types";
import type { Cowboy, CowboyRetirement, DeploymentRecord } from "../store/store";
import { checkTarget, type CowboyHow, type LiveCowboy, targetProblem, type TargetCheck } from "./rules";

/** Where a cowboy's fix is in a revision, or why it is not. */
export type Holding = { held: true; how: CowboyHow; commit: string } | { held: false; why: string | null };

/** The diff a cowboy stands for: its commit's change, or its patch file. */
function cowboyDiff(engine: Engine, c: Pick<Cowboy, "commit" | "patch">): string {
  if (c.patch !== null) return c.patch;
  return engine.repo.git.run(["diff-tree", "-p", "--binary", "--no-commit-id", "--root", c.commit!]).stdout;
}

/**
 * Does revision `rev` hold cowboy `c`'s fix? Matched exactly as security fixes
 * are (the fix itself by ancestry, a cherry-pick trailer whose change is
 * there, an identical patch-id), looking at the commits of rev that the fix
 * (or, for a patch, what the target ran when it was applied) lacks. Whatever
 * matched, the fix's change must also be in rev's tree: a fix merged and then
 * reverted is not held, so a rollout of it would drop the hot patch.
 */
export function cowboyHeld(engine: Engine, c: Pick<Cowboy, "commit" | "patch" | "patchId">, base: string | null, rev: string): Holding {
  const { repo } = engine;
  let match: { how: CowboyHow; commit: string } | null = null;
  if (c.commit && repo.isAncestor(c.commit, rev)) match = { how: "ancestry", commit: c.commit };
  else {
    // A patch has no commit of its own: a key no trailer can name (trailers name hex shas only).
    const key = c.commit ?? `patch ${c.patchId}`;
    const from = c.commit ? [c.commit] : base && repo.isAncestor(base, rev) ? [base] : [];
    const { returns } = fixReturnsIn(repo, [{ sha: key, patchId: c.patchId }], rev, from);
    const r = returns[0];
    if (r) match = { how: r.how, commit: r.commit };
  }
  if (!match) return { held: false, why: null };
  // The cherry-pick match checked the content already; ancestry and patch-id did not.
  // Where trees are read, the matching commit's change must also be where it made it (a copy of its lines elsewhere is not).
  const kept = () => (repo.readsTrees ? repo.changeMergedIn(match!.commit, rev) : repo.diffContained(cowboyDiff(engine, c), rev));
  if (match.how !== "cherry-pick" && !kept()) {
    return {
      held: false,
      why: `${shortSha(rev)} has ${shortSha(match.commit)} (${match.how}) but not its change (reverted or changed since)`,
    };
  }
  return { held: true, ...match };
}

export function knownTargets(engine: Engine): Set<string> {
  const names = new Set(engine.config.targets);
  for (const d of engine.store.lastDeployments()) names.add(d.target);
  for (const c of engine.store.cowboys()) for (const t of c.targets) names.add(t.target);
  return names;
}

export function checkTargets(engine: Engine, targets: readonly string[]): void {
  const problem = targetProblem(targets, engine.config.targets);
  if (problem) throw new UserError(problem, 2);
}

/** A revision given on the command line, as a commit sha. */
export function resolveRev(engine: Engine, text: string): string {
  if (text.startsWith("-")) throw new UserError(`revision "${text}" may not start with "-"`, 2);
  return resolveCommitSpec(engine, parseRevSpec(text));
}

/** production-stable's tip, read once: the snapshot a command compares against. */
function productionTip(engine: Engine): string | null {
  return branchTips(engine).productionStable;
}

function onProduction(engine: Engine, sha: string, prodTip: string | null): boolean {
  return prodTip !== null && engine.repo.isAncestor(sha, prodTip);
}

/** The live cowboys on `target`, with what the target ran when each was applied. */
export function liveOn(cowboys: readonly Cowboy[], target: string): { cowboy: Cowboy; base: string | null }[] {
  const live: { cowboy: Cowboy; base: string | null }[] = [];
  for (const c of cowboys) {
    const t = c.targets.find((x) => x.target === target && x.live);
    if (t) live.push({ cowboy: c, base: t.base });
  }
  return live;
}

/**
 * Record that `sha` now runs on each target, flagged when it is not on
 * production-stable, retiring there every live cowboy whose fix it holds.
 * One transaction per call, with its audit rows.
 */
export function recordDeployment(
  engine: Engine,
  targets: readonly string[],
  sha: string,
  by: { user: string; note: string | null; source: string; pushId: string | null },
): { records: { target: string; onProduction: boolean; retired: CowboyRetirement[] }[]; recorded: boolean } {
  const prodTip = productionTip(engine);
  const onProd = onProduction(engine, sha, prodTip);
  const cowboys = engine.store.cowboys();
  const records = targets.map((target) => {
    const retires: CowboyRetirement[] = [];
    for (const { cowboy, base } of liveOn(cowboys, target)) {
      const h = cowboyHeld(engine, cowboy, base, sha);
      if (h.held) retires.push({ cowboyId: cowboy.id, how: h.how, commit: h.commit });
    }
    return { target, sha, onProduction: onProd, retires };
  });
  const ids = engine.store.recordDeployments(records, by);
  return {
    records: records.map((r) => ({ target: r.target, onProduction: r.onProduction, retired: r.retires })),
    recorded: ids.length > 0,
  };
}

/**
 * `git patch-id --stable` of a patch file's text: null when it holds no patch;
 * a UserError when it holds several (a series is several cowboys).
 */
export function patchIdOf(engine: Engine, text: string): string | null {
  const r = engine.repo.git.run(["patch-id", "--stable"], { input: text, okStatuses: [1, 128] });
  const ids = r.status === 0 ? r.stdout.split("\n").filter((l) => l.trim() !== "") : [];
  if (ids.length > 1) throw new UserError(`the patch holds ${ids.length} commits' changes; record each as a cowboy of its own`, 2);
  const id = ids[0]?.trim().split(/\s+/)[0];
  return id && /^[0-9a-f]{40,64}$/.test(id) ? id : null;
}

/** The patch-id of one commit's change. */
export function commitPatchId(engine: Engine, sha: string): string | null {
  const diff = engine.repo.git.run(["diff-tree", "-p", "--no-commit-id", "--root", sha]).stdout;
  return diff.trim() === "" ? null : patchIdOf(engine, diff);
}

export interface RolloutCheck {
  safe: boolean;
  rev: string;
  targets: TargetCheck[];
}

/** Is rolling `rev` (default: production-stable's tip) out to each target safe? Reads only. */
export function checkRollout(engine: Engine, targets: readonly string[], rev: string | null, ignoreFreeze: boolean): RolloutCheck {
  const prodTip = productionTip(engine);
  const sha = rev ?? prodTip;
  if (!sha) throw new UserError(`${engine.config.branches.productionStable} does not exist yet: there is nothing to roll out`, 2);
  const revOnProduction = onProduction(engine, sha, prodTip);
  const freeze = currentFreeze(engine);
  const cowboys = engine.store.cowboys();
  const last = new Map(engine.store.lastDeployments().map((d) => [d.target, d]));
  const results = targets.map((target) => {
    const live = liveOn(cowboys, target);
    const contained = new Set<number>();
    const why = new Map<number, string>();
    for (const { cowboy, base } of live) {
      const h = cowboyHeld(engine, cowboy, base, sha);
      if (h.held) contained.add(cowboy.id);
      else if (h.why) why.set(cowboy.id, h.why);
    }
    const l = last.get(target);
    return checkTarget({
      target,
      rev: shortSha(sha),
      revOnProduction,
      freeze,
      ignoreFreeze,
      last: l ? { sha: l.sha, onProduction: l.onProduction } : null,
      live: live.map(({ cowboy }): LiveCowboy => ({
        id: cowboy.id,
        commit: cowboy.commit,
        patchId: cowboy.patchId,
        reason: cowboy.reason,
      })),
      contained,
      why,
    });
  });
  return { safe: results.every((r) => r.safe), rev: sha, targets: results };
}

export interface BehindRevision {
  sha: string;
  revno: number;
  subject: string;
  verdict: string;
}

export interface TargetStatus {
  target: string;
  sha: string | null;
  stableRevno: number | null;
  /** Since when it runs there: when the record was made, or for a deploy tag recorded late, when the tag was accepted. */
  at: string | null;
  by: string | null;
  onProduction: boolean | null;
  behind: { revisions: BehindRevision[]; fixes: { sha: string; subject: string }[] };
  cowboys: { id: number; commit: string | null; patchId: string | null; reason: string; by: string; at: string; readyToRetire: boolean }[];
}

/** Per target: what runs there, what the next rollout of production-stable's tip brings, its live cowboys. */
export function deployStatus(engine: Engine, only: string | null): TargetStatus[] {
  const { repo, store, config } = engine;
  const tips = branchTips(engine);
  const last = store.lastDeployments();
  const cowboys = store.cowboys();
  const names = new Set<string>([
    ...config.targets,
    ...last.map((d) => d.target),
    ...cowboys.flatMap((c) => c.targets.map((t) => t.target)),
  ]);
  const targets = only === null ? [...names].sort() : [only];
  const fixes = store.fixes();
  return targets.map((target) => {
    const d: DeploymentRecord | undefined = last.find((x) => x.target === target);
    let revisions: BehindRevision[] = [];
    let behindFixes: { sha: string; subject: string }[] = [];
    if (tips.productionStable) {
      const brings = repo.commits([tips.productionStable], d ? [d.sha] : []);
      const shas = new Set(brings.map((c) => c.sha));
      if (tips.stable) {
        const { segment } = repo.mainline(tips.stable, d ? [d.sha] : []);
        const judged = judgedSegment(engine, segment);
        revisions = segment
          .filter((c) => shas.has(c.sha))
          .map((c) => ({ sha: c.sha, revno: c.revno, subject: c.subject, verdict: judged.get(c.sha)?.verdict ?? "needstesting" }));
      }
      behindFixes = fixes.filter((f) => shas.has(f.sha)).map((f) => ({ sha: f.sha, subject: f.subject }));
    }
    const stableRevno = d && tips.stable && repo.onMainline(d.sha, tips.stable) ? repo.revno(d.sha) : null;
    return {
      target,
      sha: d?.sha ?? null,
      stableRevno,
      at: d ? (d.acceptedAt ?? d.at) : null,
      by: d?.user ?? null,
      onProduction: d ? d.onProduction : null,
      behind: { revisions, fixes: behindFixes },
      cowboys: liveOn(cowboys, target).map(({ cowboy, base }) => ({
        id: cowboy.id,
        commit: cowboy.commit,
        patchId: cowboy.patchId,
        reason: cowboy.reason,
        by: cowboy.by,
        at: cowboy.at,
        readyToRetire: tips.productionStable !== null && cowboyHeld(engine, cowboy, base, tips.productionStable).held,
      })),
    };
  });
}

/** Record the deployment a deploy/<target>/<label> tag says (once per tag); the line for the pusher. */
export function recordDeployTag(
  engine: Engine,
  u: { ref: string; new: string },
  target: string,
  user: string,
  pushId: string | null,
): string | null {
  const sha = engine.repo.resolveCommit(u.new);
  if (!sha) return null;
  const { records, recorded } = recordDeployment(engine, [target], sha, { user, note: null, source: `tag ${u.ref}`, pushId });
  if (!recorded) return null;
  const r = records[0]!;
  const retired = r.retired.length > 0 ? `; retired cowboy(s) ${r.retired.map((c) => `#${c.cowboyId} (${c.how})`).join(", ")}` : "";
  const flag = r.onProduction ? "" : " (NOT on production-stable: prodgate deploy check fails for it until a clean record)";
  return `prodgate: recorded: ${target} runs ${shortSha(sha)}${flag}${retired}`;
}

/**
 * A deploy tag that pre-receive accepted (audit row `accepted`) and
 * post-receive never recorded, recorded by sync as of that acceptance: when a
 * deployment on its target was recorded since, that one stands and the tag is
 * kept in the history as superseded (Store.recordLateDeployment).
 */
export function recordLateDeployTag(
  engine: Engine,
  u: { ref: string; new: string },
  target: string,
  user: string,
  pushId: string | null,
  accepted: { id: number; at: string },
): "recorded" | "superseded" | "none" {
  const sha = engine.repo.resolveCommit(u.new);
  if (!sha) return "none";
  const onProd = onProduction(engine, sha, productionTip(engine));
  const retires: CowboyRetirement[] = [];
  for (const { cowboy, base } of liveOn(engine.store.cowboys(), target)) {
    const h = cowboyHeld(engine, cowboy, base, sha);
    if (h.held) retires.push({ cowboyId: cowboy.id, how: h.how, commit: h.commit });
  }
  const done = engine.store.recordLateDeployment(
    { target, sha, onProduction: onProd, retires },
    { user, note: null, source: `tag ${u.ref}`, pushId },
    accepted,
  );
  if (!done) return "none";
  return done.supersededBy ? "superseded" : "recorded";
}

export interface DeployedTarget extends TargetStatus {
  /** Would rolling out production-stable's tip there be safe (deploy check)? */
  safe: boolean;
  reasons: TargetCheck["reasons"];
}

/** Every known target with what runs there and whether its next rollout is safe: for status and the report. */
export function deployedOverview(engine: Engine): DeployedTarget[] {
  const all = deployStatus(engine, null);
  if (all.length === 0 || !productionTip(engine)) return all.map((t) => ({ ...t, safe: t.cowboys.length === 0, reasons: [] }));
  const check = checkRollout(
    engine,
    all.map((t) => t.target),
    null,
    false,
  );
  return all.map((t, i) => ({ ...t, safe: check.targets[i]!.safe, reasons: check.targets[i]!.reasons }));
}

/** The targets whose last record holds `sha` (by ancestry): where a revision is deployed. */
export function deployedOn(engine: Engine, sha: string): { target: string; sha: string; at: string }[] {
  return engine.store
    .lastDeployments()
    .filter((d) => engine.repo.isAncestor(sha, d.sha))
    .map((d) => ({ target: d.target, sha: d.sha, at: d.at }));
}
