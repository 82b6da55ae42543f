// A Bazaar repository's history as prodgate knows it: the revision index (a
// cache in the state database of what Breezy said) plus revisions handed over
// for one decision and not yet indexed. The engine's questions (ancestry,
// mainline, revnos) cost what they cover: walks stop at a generation number
// (1 + the highest of the parents'), as git's commit-graph does.
import { UserError } from "../errors";
import type { CommitInfo, MainlineCommit } from "../policy/types";

/**
 * The document facts.py writes: governed tips by branch path, and revisions as
 * [id, parents, message]. A full snapshot holds the whole ancestry of the
 * tips; a partial one (the plugin's, inside a hook) only what is new.
 */
export interface BzrSnapshot {
  root: string;
  branches: Record<string, string | null>;
  revisions: [string, string[], string][];
  /** Governed branches that cannot be judged from the shared repository, and why. */
  layout?: Record<string, string>;
  /** Each branch's revno as the branch itself states it (checked against the index, never trusted). */
  revnos?: Record<string, number>;
  /** Parents of `revisions` the repository does not hold. */
  ghosts?: string[];
}

/** Check the shape of a snapshot read from the helper or the plugin. */
export function parseSnapshot(value: unknown): BzrSnapshot {
  const bad = (why: string): never => {
    throw new UserError(`prodgate could not read the Bazaar repository's facts: ${why}`, 1);
  };
  if (typeof value !== "object" || value === null) return bad("not an object");
  const v = value as Record<string, unknown>;
  if (typeof v.root !== "string") return bad("no root");
  if (typeof v.branches !== "object" || v.branches === null) return bad("no branches");
  for (const tip of Object.values(v.branches)) if (tip !== null && typeof tip !== "string") bad("a branch tip is not a revision id");
  if (!Array.isArray(v.revisions)) return bad("no revisions");
  if (v.layout !== undefined) {
    if (typeof v.layout !== "object" || v.layout === null) bad("layout is not an object");
    for (const why of Object.values(v.layout as object)) if (typeof why !== "string") bad("a layout problem is not text");
  }
  if (v.revnos !== undefined) {
    if (typeof v.revnos !== "object" || v.revnos === null) bad("revnos is not an object");
    for (const n of Object.values(v.revnos as object)) if (!Number.isSafeInteger(n)) bad("a revno is not a number");
  }
  if (v.ghosts !== undefined && (!Array.isArray(v.ghosts) || v.ghosts.some((g) => typeof g !== "string"))) bad("ghosts is malformed");
  for (const r of v.revisions) {
    if (!Array.isArray(r) || typeof r[0] !== "string" || !Array.isArray(r[1]) || typeof r[2] !== "string") bad("a revision is malformed");
    for (const p of r[1] as unknown[]) if (typeof p !== "string") bad("a parent is not a revision id");
  }
  return v as unknown as BzrSnapshot;
}

export interface RevisionNode {
  /** Left-hand parent first; ghosts included. */
  parents: string[];
  revno: number;
  gen: number;
}

/** Where indexed revisions are read from (the state database), one at a time. */
export interface RevisionSource {
  revision(id: string): RevisionNode | null;
  message(id: string): string | null;
}

/** A revision handed over and not indexed yet, with what was computed for it. */
export interface PendingRevision extends RevisionNode {
  id: string;
  message: string;
}

/** A max-heap on generation; among equals the last pushed comes out first (left-hand parents are pushed first, so merged sides come out before them). */
class GenHeap {
  private readonly items: { id: string; gen: number; seq: number }[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  push(id: string, gen: number): void {
    const a = this.items;
    a.push({ id, gen, seq: this.seq++ });
    for (let i = a.length - 1; i > 0;) {
      const up = (i - 1) >> 1;
      if (!this.before(a[i]!, a[up]!)) break;
      [a[i], a[up]] = [a[up]!, a[i]!];
      i = up;
    }
  }

  pop(): string {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < a.length && this.before(a[l]!, a[best]!)) best = l;
        if (r < a.length && this.before(a[r]!, a[best]!)) best = r;
        if (best === i) break;
        [a[i], a[best]] = [a[best]!, a[i]!];
        i = best;
      }
    }
    return top.id;
  }

  private before(x: { gen: number; seq: number }, y: { gen: number; seq: number }): boolean {
    return x.gen > y.gen || (x.gen === y.gen && x.seq > y.seq);
  }
}

export class BzrHistory {
  /** Revisions not (yet) in the index: handed over for this decision, or the whole snapshot without an index. */
  private readonly pending = new Map<string, PendingRevision>();
  private readonly cache = new Map<string, RevisionNode | null>();
  readonly tips: Map<string, string | null>;

  /**
   * From a full snapshot (no index), or over an index with `snapshot` holding
   * the tips and any revisions the index lacks.
   */
  constructor(
    snapshot: BzrSnapshot,
    private readonly index: RevisionSource | null = null,
  ) {
    this.tips = new Map(Object.entries(snapshot.branches));
    // Without an index, a parent the snapshot lacks is a ghost (a full snapshot holds the whole ancestry).
    this.add(snapshot.revisions);
  }

  /**
   * Add revisions (parents before children not required) and compute their
   * revno and generation from their parents. Returns the parents that are
   * neither held nor among them: ghosts, or revisions the index should hold.
   */
  add(revisions: readonly [string, string[], string][]): string[] {
    const given = new Map<string, [string, string[], string]>();
    for (const r of revisions) if (!this.node(r[0])) given.set(r[0], r);
    const missing = new Set<string>();
    const open = new Set<string>();
    const visit = (start: string): void => {
      // Iterative post-order: parents first, so each revision's revno and generation come from known parents.
      const stack: { id: string; next: number }[] = [{ id: start, next: 0 }];
      open.add(start);
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        const r = given.get(top.id)!;
        if (top.next < r[1].length) {
          const p = r[1][top.next++]!;
          // A parent still open is a cycle (ids chosen by hand): it stays unresolved rather than loop.
          if (given.has(p) && !this.pending.has(p) && !open.has(p)) {
            open.add(p);
            stack.push({ id: p, next: 0 });
          }
          continue;
        }
        stack.pop();
        open.delete(top.id);
        if (this.pending.has(top.id)) continue;
        const parents = r[1];
        let gen = 0;
        for (const p of parents) {
          const n = this.node(p);
          if (n) gen = Math.max(gen, n.gen);
          else missing.add(p);
        }
        const left = parents[0] !== undefined ? this.node(parents[0]) : null;
        const node: PendingRevision = { id: top.id, parents, message: r[2], revno: left ? left.revno + 1 : 1, gen: gen + 1 };
        this.pending.set(top.id, node);
        this.cache.delete(top.id);
      }
    };
    for (const id of given.keys()) if (!this.pending.has(id)) visit(id);
    return [...missing];
  }

  /** Revisions added since this history was made, parents before children. */
  pendingRevisions(): PendingRevision[] {
    return [...this.pending.values()].sort((a, b) => a.gen - b.gen);
  }

  private node(id: string): RevisionNode | null {
    const p = this.pending.get(id);
    if (p) return p;
    if (!this.index) return null;
    let n = this.cache.get(id);
    if (n === undefined) {
      n = this.index.revision(id);
      this.cache.set(id, n);
    }
    return n;
  }

  has(id: string): boolean {
    return this.node(id) !== null;
  }

  /** Parents held (ghosts left out). */
  parents(id: string): string[] {
    return (this.node(id)?.parents ?? []).filter((p) => this.has(p));
  }

  /** The left-hand parent, or undefined when there is none or it is a ghost (then the mainline ends here, as in Breezy). */
  leftParent(id: string): string | undefined {
    const p = this.node(id)?.parents[0];
    return p !== undefined && this.has(p) ? p : undefined;
  }

  /** Parents this repository does not hold (ghosts). */
  ghostParents(id: string): string[] {
    return (this.node(id)?.parents ?? []).filter((p) => !this.has(p));
  }

  commit(id: string): CommitInfo | null {
    if (!this.has(id)) return null;
    const raw = this.pending.get(id)?.message ?? this.index?.message(id) ?? "";
    const message = raw.replace(/\n+$/, "");
    return { sha: id, parents: this.parents(id), subject: message.split("\n", 1)[0] ?? "", message };
  }

  /** Length of the left-hand (mainline) chain ending at `id`: bzr's revno; 0 for an unknown revision. */
  revno(id: string): number {
    return this.node(id)?.revno ?? 0;
  }

  generation(id: string): number {
    return this.node(id)?.gen ?? 0;
  }

  isAncestor(ancestor: string, descendant: string): boolean {
    const target = this.node(ancestor);
    if (!target || !this.has(descendant)) return false;
    if (ancestor === descendant) return true;
    // Only revisions of a higher generation can have it as an ancestor.
    const seen = new Set<string>([descendant]);
    const stack = [descendant];
    while (stack.length > 0) {
      const id = stack.pop()!;
      for (const p of this.parents(id)) {
        if (p === ancestor) return true;
        if (seen.has(p) || this.generation(p) <= target.gen) continue;
        seen.add(p);
        stack.push(p);
      }
    }
    return false;
  }

  /**
   * Revisions reachable from `include` but not from `exclude`, children before
   * parents. Both sides are walked together from the highest generation down,
   * and the walk stops once only excluded revisions are left: the cost is the
   * difference, not the history.
   */
  between(include: readonly string[], exclude: readonly string[]): string[] {
    const INCLUDED = 1;
    const EXCLUDED = 2;
    const flags = new Map<string, number>();
    const heap = new GenHeap();
    let interesting = 0;
    const mark = (id: string, flag: number): void => {
      const before = flags.get(id);
      if (before === undefined) {
        flags.set(id, flag);
        heap.push(id, this.generation(id));
        if (flag === INCLUDED) interesting++;
      } else if ((before | flag) !== before) {
        if (before === INCLUDED) interesting--;
        flags.set(id, before | flag);
      }
    };
    for (const id of exclude) if (this.has(id)) mark(id, EXCLUDED);
    for (const id of include) if (this.has(id)) mark(id, INCLUDED);
    const order: string[] = [];
    while (heap.size > 0 && interesting > 0) {
      const id = heap.pop();
      const flag = flags.get(id)!;
      if (flag === INCLUDED) {
        interesting--;
        order.push(id);
      }
      for (const p of this.parents(id)) mark(p, flag);
    }
    return order;
  }

  /** The left-hand chain of `tip` not reachable from `exclude`, oldest first, and the revision just before it. */
  mainline(tip: string, exclude: readonly string[]): { segment: MainlineCommit[]; boundary: MainlineCommit | null } {
    const asMainline = (id: string): MainlineCommit => ({ ...this.commit(id)!, revno: this.revno(id) });
    if (!this.has(tip)) return { segment: [], boundary: null };
    const fresh = new Set(this.between([tip], exclude));
    const chain: string[] = [];
    let cur: string | undefined = tip;
    while (cur !== undefined && fresh.has(cur)) {
      chain.push(cur);
      cur = this.leftParent(cur);
    }
    const segment = chain.reverse().map(asMainline);
    if (segment.length === 0) return { segment, boundary: asMainline(tip) };
    return { segment, boundary: cur !== undefined ? asMainline(cur) : null };
  }

  /** Is `id` on the left-hand chain of `tip`? Walks from the tip down to `id`'s revno only. */
  onMainline(id: string, tip: string): boolean {
    const target = this.node(id);
    if (!target) return false;
    for (let cur: string | undefined = tip; cur !== undefined; cur = this.leftParent(cur)) {
      if (cur === id) return true;
      if (this.revno(cur) <= target.revno) return false;
    }
    return false;
  }

  /** The revision `steps` left-hand parents back from `id`. */
  back(id: string, steps: number): string | null {
    let cur: string | undefined = this.has(id) ? id : undefined;
    for (let i = 0; i < steps && cur !== undefined; i++) cur = this.leftParent(cur);
    return cur ?? null;
  }
}
