// Break-glass content stays visible until QA has judged it: every audited
// override that moved production-stable, the commits it brought there, and
// the verdict each of them has now.
import { effectiveVerdict, rollbackTargets } from "../policy/deployable";
import { branchRef } from "../policy/refs";
import { type CommitInfo, isZeroSha, type MainlineCommit } from "../policy/types";
import type { AuditEntry } from "../store/store";
import { markerTrust } from "./markers";
import { judgedSegment, verdictsFor } from "./tickets";
import { branchTips, type Engine, type Tips } from "./state";

/** At most this many commits of one override are judged one by one; the rest are counted. */
export const OVERRIDE_COMMITS_SHOWN = 100;

/**
 * A commit an override brought onto production-stable and where QA stands on
 * it: `verdict` is its own when it is a mainline commit of stable, else that
 * of the first mainline commit of stable that holds it (`via`); "not-on-stable"
 * while stable does not hold it; "baseline" at or behind the baseline (needs none).
 */
export interface OverrideCommit {
  sha: string;
  revno: number | null;
  subject: string;
  verdict: string;
  /** The mainline commit of stable whose verdict stands for this one, when it is not itself on stable's mainline. */
  via: { sha: string; revno: number } | null;
  /** For a bad commit: whether production-stable now holds a rollback of it. */
  rolledBack?: boolean;
  by: string | null;
  at: string | null;
}

export type OverrideState = "pending" | "bad" | "judged";

export interface OverrideRecord {
  /** The audit row of the override (prodgate log shows it). */
  id: number;
  at: string;
  user: string | null;
  why: string;
  /** What the override overrode: the code and reason of the refusal. */
  overrode: string | null;
  ref: string;
  old: string | null;
  new: string;
  /** Whether the update landed (null: not yet known). */
  landed: boolean | null;
  /** pending: some commit it brought awaits a verdict; bad: one is bad and not rolled back in production; judged: every one has a verdict. */
  state: OverrideState;
  commits: OverrideCommit[];
  /** How many commits it brought beyond those listed. */
  more: number;
}

/** The override rows of `ref`, oldest first, with whether each landed. */
function overrideRows(engine: Engine, ref: string): (AuditEntry & { landed: boolean | null })[] {
  const rows = engine.store.db
    .prepare(
      `SELECT id, at, push_id AS pushId, user, ref, old, new, decision, code, reason, detail,
         (SELECT landed FROM landing WHERE audit_id = audit.id) AS landed
       FROM audit WHERE decision = 'override' AND ref = ? ORDER BY id`,
    )
    .all(ref) as (AuditEntry & { landed: number | null })[];
  return rows.map((r) => ({ ...r, landed: r.landed === null ? null : r.landed === 1 }));
}

/** The oldest mainline commit of stable that holds `sha`, or null when stable does not hold it. */
function holdingMainline(engine: Engine, sha: string, stableTip: string): MainlineCommit | null {
  const { repo } = engine;
  if (!repo.isAncestor(sha, stableTip)) return null;
  const direct = repo.mainlineCommit(sha, stableTip);
  if (direct) return direct;
  // Descendants of sha along stable's first-parent chain, newest first: the last is the one that merged it.
  let out: string;
  try {
    out = repo.git.out(["rev-list", "--first-parent", `--ancestry-path=${sha}`, stableTip, "--not", sha, "--"]);
  } catch {
    return null;
  }
  const chain = out.split("\n").filter(Boolean);
  const oldest = chain[chain.length - 1];
  return oldest ? repo.mainlineCommit(oldest, stableTip) : null;
}

/**
 * Every override of production-stable that landed (or may have), with the
 * commits it brought and their verdicts now. Computed from one snapshot of the
 * branch tips (`tips`, read when not given).
 */
export function listOverrides(engine: Engine, known?: Tips): OverrideRecord[] {
  const { repo, store, config } = engine;
  const ref = branchRef(config.branches.productionStable);
  const rows = overrideRows(engine, ref).filter((r) => r.landed !== false && r.new && !isZeroSha(r.new));
  // Without an override, no history is read (a Bazaar history needs Breezy for it).
  if (rows.length === 0) return [];
  const tips = known ?? branchTips(engine);
  const baseline = store.getSetting("baseline");
  const prod = tips.productionStable;
  const records: OverrideRecord[] = [];
  for (const row of rows) {
    const brought: CommitInfo[] =
      repo.objectType(row.new!) !== "commit"
        ? []
        : repo.commits([row.new!], row.old && !isZeroSha(row.old) ? [row.old] : [], { limit: OVERRIDE_COMMITS_SHOWN + 1 });
    const shown = brought.slice(0, OVERRIDE_COMMITS_SHOWN).reverse();
    const more =
      brought.length > OVERRIDE_COMMITS_SHOWN ? repo.count([row.new!], row.old && !isZeroSha(row.old) ? [row.old] : []) - shown.length : 0;
    const commits = judgeAll(engine, row, shown, tips.stable, baseline, prod);
    const unjudged = commits.some((c) => c.verdict === "needstesting" || c.verdict === "not-on-stable") || more > 0;
    const bad = commits.some((c) => c.verdict === "bad" && !c.rolledBack);
    records.push({
      id: row.id,
      at: row.at,
      user: row.user,
      why: row.reason ?? "",
      overrode: row.detail ?? null,
      ref,
      old: row.old && !isZeroSha(row.old) ? row.old : null,
      new: row.new!,
      landed: row.landed ?? null,
      state: bad ? "bad" : unjudged ? "pending" : "judged",
      commits,
      more,
    });
  }
  return records;
}

/**
 * Each commit's verdict, asking git little: the mainline of stable that the
 * override could have brought is read once, and the commits behind the
 * baseline in one walk; only a commit merged into stable from a side branch
 * costs questions of its own.
 */
function judgeAll(
  engine: Engine,
  row: { old?: string | null; new?: string | null },
  shown: readonly CommitInfo[],
  stableTip: string | null,
  baseline: string | null,
  prod: string | null,
): OverrideCommit[] {
  const { repo } = engine;
  const old = row.old && !isZeroSha(row.old) ? row.old : null;
  const exclude = [old, baseline].filter((x): x is string => !!x);
  let behindBaseline = new Set<string>();
  if (baseline) {
    const after = new Set(repo.commits([row.new!], exclude).map((c) => c.sha));
    behindBaseline = new Set(shown.filter((c) => !after.has(c.sha)).map((c) => c.sha));
  }
  const segment = stableTip ? repo.mainline(stableTip, exclude).segment : [];
  const onMainline = new Map(segment.map((c) => [c.sha, c] as const));
  const holders = new Map<string, MainlineCommit | null>();
  for (const c of shown) {
    if (behindBaseline.has(c.sha)) continue;
    holders.set(c.sha, onMainline.get(c.sha) ?? (stableTip ? holdingMainline(engine, c.sha, stableTip) : null));
  }
  // Judged as the walk judges (an [incr] revision by its ticket's later landing on stable).
  const judged = judgedSegment(engine, segment);
  const outside = [...holders.values()].filter((h): h is MainlineCommit => !!h && !judged.has(h.sha));
  const verdicts = verdictsFor(engine, outside);
  const trust = markerTrust(engine, outside);
  return shown.map((c) => {
    const base = { sha: c.sha, subject: c.subject, by: null, at: null };
    if (behindBaseline.has(c.sha)) return { ...base, revno: null, verdict: "baseline", via: null };
    const holder = holders.get(c.sha);
    if (!holder) return { ...base, revno: null, verdict: "not-on-stable", via: null };
    const v = judged.get(holder.sha) ?? effectiveVerdict(holder, verdicts, trust);
    const record = v.source === "recorded" ? v.record : undefined;
    const own = holder.sha === c.sha;
    const result: OverrideCommit = {
      ...base,
      revno: own ? holder.revno : null,
      verdict: v.verdict,
      via: own ? null : { sha: holder.sha, revno: holder.revno },
      by: record?.user ?? v.vouchedBy?.user ?? null,
      at: record?.at ?? null,
    };
    if (v.verdict === "bad") result.rolledBack = !!prod && rolledBackIn(engine, holder, prod);
    return result;
  });
}

/** Does production-stable hold a commit whose [rollback=…] names this one (by revno or sha prefix)? */
function rolledBackIn(engine: Engine, bad: MainlineCommit, prod: string): boolean {
  const later = engine.repo.commits([prod], [bad.sha], { limit: 5000 });
  return later.some((c) =>
    rollbackTargets(c.message).some(
      (t) => (/^[0-9]+$/.test(t) && t.length <= 15 && Number(t) === bad.revno) || (t.length >= 4 && bad.sha.startsWith(t)),
    ),
  );
}

/** Overrides some of whose content still awaits a verdict, or holds a bad revision not rolled back. */
export function pendingOverrides(records: readonly OverrideRecord[]): OverrideRecord[] {
  return records.filter((r) => r.state !== "judged");
}

/** The override that brought `sha` onto production-stable and still awaits QA on it, if any. */
export function unjudgedOverrideOf(
  records: readonly OverrideRecord[],
  sha: string,
): { record: OverrideRecord; commit: OverrideCommit } | null {
  for (const record of records) {
    const commit = record.commits.find((c) => c.sha === sha);
    if (
      commit &&
      (commit.verdict === "needstesting" || commit.verdict === "not-on-stable" || (commit.verdict === "bad" && !commit.rolledBack))
    )
      return { record, commit };
  }
  return null;
}
