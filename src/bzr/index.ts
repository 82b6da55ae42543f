// The revision index kept true: before the engine answers from it, the
// governed tips Breezy states are checked against it, what it lacks is asked
// of Breezy (only what is new since the tips it knows), a filled ghost or any
// disagreement rebuilds it from everything Breezy holds. The index is a cache:
// every answer taken from it is the answer Breezy would give.
import { UserError } from "../errors";
import { BzrIndexStore, type IndexedTip } from "../store/bzr-index";
import type { Store } from "../store/store";
import { BzrHistory, type BzrSnapshot, type PendingRevision, parseSnapshot } from "./history";

/** What prodgate asks Breezy: the facts document facts.py answers, by the helper or by the plugin. */
export interface FactsRequest {
  /** Revisions whose ancestry the index holds: only what is not in it is sent. */
  known: string[];
  /** Revisions whose ancestry is wanted besides the governed tips'. */
  heads?: string[];
  /** Ids the index holds as ghosts: which does the repository hold now? */
  ghosts?: string[];
  /** The whole ancestry of the governed tips (a rebuild). */
  everything?: boolean;
  /** Tips and layout only, no revisions (doctor). */
  tipsOnly?: boolean;
}

export interface FactsAnswer extends BzrSnapshot {
  /** Which of the asked ghosts the repository now holds. */
  present?: string[];
  /** (tipsOnly) Locks on the governed branches or the shared repository whose holder, a process of this machine, is gone. */
  locks?: { path: string; holder: string }[];
}

export interface BreezySource {
  ask(request: FactsRequest): FactsAnswer;
}

export function parseFactsAnswer(value: unknown): FactsAnswer {
  const snapshot = parseSnapshot(value);
  const present = (value as { present?: unknown }).present;
  if (present !== undefined && (!Array.isArray(present) || present.some((p) => typeof p !== "string")))
    throw new UserError("prodgate could not read the Bazaar repository's facts: present is malformed", 1);
  const locks = (value as { locks?: unknown }).locks;
  if (
    locks !== undefined &&
    (!Array.isArray(locks) ||
      locks.some((l) => typeof (l as { path?: unknown })?.path !== "string" || typeof (l as { holder?: unknown }).holder !== "string"))
  )
    throw new UserError("prodgate could not read the Bazaar repository's facts: locks is malformed", 1);
  return snapshot as FactsAnswer;
}

export interface LoadedHistory {
  history: BzrHistory;
  /** The facts the tips were read from (tips, revnos, layout). */
  facts: FactsAnswer;
  rebuilt: boolean;
}

/**
 * The history of the shared repository, answered from the index. `told` is
 * what the plugin already sent (tips, revnos, layout); without it the source
 * is asked for the tips and what is new since the index's tips, in one call.
 */
export function loadHistory(store: Store, source: BreezySource, told: FactsAnswer | null = null): LoadedHistory {
  const index = new BzrIndexStore(store);
  const stored = index.tips();
  const known = [...new Set([...stored.values()].map((t) => t.id))];
  const ghosts = index.ghosts();
  let facts: FactsAnswer;
  let present: string[];
  if (told) {
    facts = told;
    present = ghosts.length > 0 ? (source.ask({ known, ghosts }).present ?? []) : [];
  } else {
    facts = source.ask({ known, ghosts });
    present = facts.present ?? [];
  }
  // A ghost now held changes the revnos and ancestry of everything after it.
  if (present.length > 0 || stored.size === 0) return rebuild(store, source);

  const history = new BzrHistory({ ...facts, revisions: [] }, index);
  const newGhosts = new Set(facts.ghosts ?? []);
  let unresolved = told ? [] : history.add(facts.revisions);
  const tips = Object.entries(facts.branches).filter((e): e is [string, string] => e[1] !== null);
  const unknown = tips.map(([, id]) => id).filter((id) => !history.has(id));
  if (unknown.length > 0) {
    const more = source.ask({ known, heads: unknown });
    for (const g of more.ghosts ?? []) newGhosts.add(g);
    unresolved = [...unresolved, ...history.add(more.revisions)];
  }
  if (unresolved.some((p) => !newGhosts.has(p) && !history.has(p))) return rebuild(store, source, told);
  for (const [branch, id] of tips) {
    const stated = facts.revnos?.[branch];
    if (!history.has(id)) return rebuild(store, source, told);
    const same = stored.get(branch);
    // The branch's own revno is a claim, but a disagreement may be the index's fault: it is rebuilt from
    // Breezy, and only a disagreement that a rebuild confirmed for this very tip is not asked again.
    if (stated !== undefined && stated !== history.revno(id) && !(same && same.id === id && same.revno === stated && same.settled))
      return rebuild(store, source, told);
  }
  const pending = history.pendingRevisions();
  const tipsChanged =
    tips.some(([b, id]) => stored.get(b)?.id !== id || stored.get(b)?.revno !== (facts.revnos?.[b] ?? history.revno(id))) ||
    [...stored.keys()].some((b) => !(b in facts.branches));
  if (pending.length > 0 || tipsChanged)
    index.save(
      pending,
      [...newGhosts].filter((g) => !history.has(g)),
      tipMap(facts, history, stored),
    );
  return { history: new BzrHistory({ ...facts, revisions: [] }, index), facts, rebuilt: false };
}

/**
 * The tips to record. `settledBy` says where a disagreement between a stated
 * revno and the history is settled: "rebuild" (just read from Breezy), or the
 * tips recorded before (kept only for the same tip and the same claim).
 */
function tipMap(
  facts: FactsAnswer,
  history: BzrHistory,
  settledBy: "rebuild" | ReadonlyMap<string, IndexedTip>,
): Map<string, IndexedTip | null> {
  const tips = new Map<string, IndexedTip | null>();
  for (const [branch, id] of Object.entries(facts.branches)) {
    if (id === null) {
      tips.set(branch, null);
      continue;
    }
    const revno = facts.revnos?.[branch] ?? history.revno(id);
    const before = settledBy === "rebuild" ? undefined : settledBy.get(branch);
    const settled =
      revno === history.revno(id)
        ? 0
        : settledBy === "rebuild"
          ? 1
          : before?.id === id && before.revno === revno
            ? (before.settled ?? 0)
            : 0;
    tips.set(branch, { id, revno, settled });
  }
  // A branch no longer governed (or gone) is no tip of the index's: kept, it would read as changed at every load.
  if (settledBy !== "rebuild") for (const branch of settledBy.keys()) if (!(branch in facts.branches)) tips.set(branch, null);
  return tips;
}

/** Empty the index and fill it from the whole ancestry of the governed tips, as Breezy states it now. */
export function rebuild(store: Store, source: BreezySource, told: FactsAnswer | null = null): LoadedHistory {
  const everything = source.ask({ known: [], everything: true });
  // Inside a hook the branch being changed is at the tip the plugin told, which the file may not say yet.
  const facts: FactsAnswer = told
    ? {
        ...everything,
        branches: { ...everything.branches, ...told.branches },
        revnos: { ...everything.revnos, ...told.revnos },
        layout: told.layout ?? everything.layout,
      }
    : everything;
  const full = new BzrHistory({ ...facts, revisions: everything.revisions });
  const pending = full.pendingRevisions();
  const ghosts = new Set<string>();
  for (const r of pending) for (const p of r.parents) if (!full.has(p)) ghosts.add(p);
  const index = new BzrIndexStore(store);
  index.save(pending, [...ghosts], tipMap(facts, full, "rebuild"), true);
  return { history: new BzrHistory({ ...facts, revisions: [] }, index), facts, rebuilt: true };
}

/**
 * Record what a landed change added (the revisions handed over for it, which
 * the repository holds now) and the tips as they stand.
 */
export function persistLanded(store: Store, revisions: readonly PendingRevision[], facts: FactsAnswer): void {
  const index = new BzrIndexStore(store);
  const history = new BzrHistory({ ...facts, revisions: [] }, index);
  history.add(revisions.map((r) => [r.id, r.parents, r.message]));
  const pending = history.pendingRevisions();
  const ghosts = new Set<string>();
  for (const r of pending) for (const g of history.ghostParents(r.id)) ghosts.add(g);
  index.save(pending, [...ghosts], tipMap(facts, history, index.tips()));
}
