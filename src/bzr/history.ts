// A Bazaar repository's history as the Python side gathered it: branch tips
// and the ancestry of all of them. Pure: the engine's questions (ancestry,
// mainline, revnos) are answered from this snapshot in memory.
import { UserError } from "../errors";
import type { CommitInfo, MainlineCommit } from "../policy/types";

/** The document facts.py writes: tips by branch path, revisions as [id, parents, message]. */
export interface BzrSnapshot {
  root: string;
  branches: Record<string, string | null>;
  revisions: [string, string[], string][];
  /** Governed branches that cannot be judged from the shared repository, and why. */
  layout?: Record<string, string>;
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
  for (const r of v.revisions) {
    if (!Array.isArray(r) || typeof r[0] !== "string" || !Array.isArray(r[1]) || typeof r[2] !== "string") bad("a revision is malformed");
  }
  return v as unknown as BzrSnapshot;
}

interface Node {
  parents: string[];
  message: string;
}

export class BzrHistory {
  private readonly nodes = new Map<string, Node>();
  private readonly revnos = new Map<string, number>();
  private readonly ancestryCache = new Map<string, Set<string>>();
  readonly tips: Map<string, string | null>;

  constructor(snapshot: BzrSnapshot) {
    for (const [id, parents, message] of snapshot.revisions) this.nodes.set(id, { parents, message });
    this.tips = new Map(Object.entries(snapshot.branches));
  }

  has(id: string): boolean {
    return this.nodes.has(id);
  }

  /** Parents present in the snapshot (ghosts left out). */
  parents(id: string): string[] {
    return (this.nodes.get(id)?.parents ?? []).filter((p) => this.nodes.has(p));
  }

  /** The left-hand parent, or undefined when there is none or it is a ghost (then the mainline ends here, as in Breezy). */
  leftParent(id: string): string | undefined {
    const p = this.nodes.get(id)?.parents[0];
    return p !== undefined && this.nodes.has(p) ? p : undefined;
  }

  /** Parents this repository does not hold (ghosts). */
  ghostParents(id: string): string[] {
    return (this.nodes.get(id)?.parents ?? []).filter((p) => !this.nodes.has(p));
  }

  commit(id: string): CommitInfo | null {
    const node = this.nodes.get(id);
    if (!node) return null;
    const message = node.message.replace(/\n+$/, "");
    return { sha: id, parents: this.parents(id), subject: message.split("\n", 1)[0] ?? "", message };
  }

  /** Length of the left-hand (mainline) chain ending at `id`: bzr's revno. */
  revno(id: string): number {
    const chain: string[] = [];
    let cur: string | undefined = id;
    while (cur !== undefined && this.nodes.has(cur) && !this.revnos.has(cur)) {
      chain.push(cur);
      cur = this.leftParent(cur);
    }
    let n = cur !== undefined && this.revnos.has(cur) ? this.revnos.get(cur)! : 0;
    for (let i = chain.length - 1; i >= 0; i--) this.revnos.set(chain[i]!, ++n);
    return this.revnos.get(id) ?? 0;
  }

  /** Every revision reachable from `ids`, themselves included. */
  ancestry(ids: readonly string[]): Set<string> {
    const key = [...ids].sort().join("\n");
    const cached = this.ancestryCache.get(key);
    if (cached) return cached;
    const seen = new Set<string>();
    const stack = ids.filter((id) => this.nodes.has(id));
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      for (const p of this.parents(id)) if (!seen.has(p)) stack.push(p);
    }
    this.ancestryCache.set(key, seen);
    return seen;
  }

  isAncestor(ancestor: string, descendant: string): boolean {
    return this.ancestry([descendant]).has(ancestor);
  }

  /** Revisions reachable from `include` but not from `exclude`, newest first (children before parents). */
  between(include: readonly string[], exclude: readonly string[]): string[] {
    const excluded = this.ancestry(exclude);
    const order: string[] = [];
    const state = new Map<string, "open" | "done">();
    // Depth-first, left parent first; a revision is emitted after all its parents, then reversed.
    for (const start of include) {
      if (!this.nodes.has(start) || excluded.has(start)) continue;
      const stack: { id: string; next: number }[] = [{ id: start, next: 0 }];
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        if (top.next === 0) {
          if (state.has(top.id)) {
            stack.pop();
            continue;
          }
          state.set(top.id, "open");
        }
        const parents = this.parents(top.id);
        if (top.next < parents.length) {
          const p = parents[top.next++]!;
          if (!excluded.has(p) && !state.has(p)) stack.push({ id: p, next: 0 });
          continue;
        }
        state.set(top.id, "done");
        order.push(top.id);
        stack.pop();
      }
    }
    return order.reverse();
  }

  /** The left-hand chain of `tip` not reachable from `exclude`, oldest first, and the revision just before it. */
  mainline(tip: string, exclude: readonly string[]): { segment: MainlineCommit[]; boundary: MainlineCommit | null } {
    const excluded = this.ancestry(exclude);
    const chain: string[] = [];
    let cur: string | undefined = this.nodes.has(tip) ? tip : undefined;
    while (cur !== undefined && !excluded.has(cur)) {
      chain.push(cur);
      cur = this.leftParent(cur);
    }
    const asMainline = (id: string): MainlineCommit => ({ ...this.commit(id)!, revno: this.revno(id) });
    const segment = chain.reverse().map(asMainline);
    if (segment.length === 0) return { segment, boundary: this.nodes.has(tip) ? asMainline(tip) : null };
    return { segment, boundary: cur !== undefined ? asMainline(cur) : null };
  }

  /** Is `id` on the left-hand chain of `tip`? */
  onMainline(id: string, tip: string): boolean {
    for (let cur: string | undefined = tip; cur !== undefined; cur = this.leftParent(cur)) if (cur === id) return true;
    return false;
  }

  /** The revision `steps` left-hand parents back from `id`. */
  back(id: string, steps: number): string | null {
    let cur: string | undefined = this.nodes.has(id) ? id : undefined;
    for (let i = 0; i < steps && cur !== undefined; i++) cur = this.leftParent(cur);
    return cur ?? null;
  }
}
