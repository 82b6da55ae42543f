// The Bazaar revision index's SQL: revisions (id, parents, message, revno,
// generation), the ghosts among their parents, and the governed tips last
// checked against Breezy. Only src/bzr/index.ts decides what goes in.
import type Database from "better-sqlite3";
import type { Store } from "./store";

export interface IndexedRevision {
  id: string;
  /** Left-hand parent first; ghosts included. */
  parents: string[];
  revno: number;
  gen: number;
}

/** A governed tip as last checked: its id and the revno the branch stated. */
export interface IndexedTip {
  id: string;
  revno: number;
  /** 1 when the stated revno differs from the history's and a rebuild confirmed the history's. */
  settled?: number;
}

export interface NewIndexedRevision extends IndexedRevision {
  message: string;
}

export class BzrIndexStore {
  private readonly db: Database.Database;
  private readonly byId: Database.Statement;
  private readonly messageOf: Database.Statement;

  constructor(private readonly store: Store) {
    this.db = store.db;
    this.byId = this.db.prepare("SELECT parents, revno, gen FROM bzr_revisions WHERE id = ?");
    this.messageOf = this.db.prepare("SELECT message FROM bzr_revisions WHERE id = ?");
  }

  revision(id: string): IndexedRevision | null {
    const row = this.byId.get(id) as { parents: string; revno: number; gen: number } | undefined;
    return row ? { id, parents: JSON.parse(row.parents) as string[], revno: row.revno, gen: row.gen } : null;
  }

  message(id: string): string | null {
    const row = this.messageOf.get(id) as { message: string } | undefined;
    return row ? row.message : null;
  }

  ghosts(): string[] {
    return (this.db.prepare("SELECT id FROM bzr_ghosts ORDER BY id").all() as { id: string }[]).map((r) => r.id);
  }

  tips(): Map<string, IndexedTip> {
    const rows = this.db.prepare("SELECT branch, id, revno, settled FROM bzr_tips").all() as (IndexedTip & { branch: string })[];
    return new Map(rows.map((r) => [r.branch, { id: r.id, revno: r.revno, settled: r.settled }]));
  }

  count(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM bzr_revisions").get() as { n: number }).n;
  }

  /**
   * Add revisions (already in the repository, so facts that never change) and
   * the ghosts among their parents, and set governed tips; `replace` empties
   * the index first (a rebuild from everything Breezy holds).
   */
  save(
    revisions: readonly NewIndexedRevision[],
    ghosts: readonly string[],
    tips: ReadonlyMap<string, IndexedTip | null>,
    replace = false,
  ): void {
    const insert = this.db.prepare("INSERT OR IGNORE INTO bzr_revisions (id, parents, message, revno, gen) VALUES (?, ?, ?, ?, ?)");
    const ghost = this.db.prepare("INSERT OR IGNORE INTO bzr_ghosts (id) VALUES (?)");
    const setTip = this.db.prepare(
      `INSERT INTO bzr_tips (branch, id, revno, settled) VALUES (?, ?, ?, ?)
       ON CONFLICT(branch) DO UPDATE SET id = excluded.id, revno = excluded.revno, settled = excluded.settled`,
    );
    const dropTip = this.db.prepare("DELETE FROM bzr_tips WHERE branch = ?");
    const held = this.db.prepare("SELECT 1 FROM bzr_revisions WHERE id = ? UNION ALL SELECT 1 FROM bzr_ghosts WHERE id = ?");
    this.store.write(() => {
      if (replace) this.db.exec("DELETE FROM bzr_revisions; DELETE FROM bzr_ghosts; DELETE FROM bzr_tips;");
      for (const r of revisions) insert.run(r.id, JSON.stringify(r.parents), r.message, r.revno, r.gen);
      for (const g of ghosts) ghost.run(g);
      for (const [branch, tip] of tips) {
        if (tip) setTip.run(branch, tip.id, tip.revno, tip.settled ?? 0);
        else dropTip.run(branch);
      }
      // The index must stay closed under parents (a race with a rebuild could break that): if it is not,
      // forget the tips, which makes the next reader rebuild it from Breezy rather than take a parent for a ghost.
      const open = revisions.some((r) => r.parents.some((p) => held.get(p, p) === undefined));
      if (open) this.db.exec("DELETE FROM bzr_tips");
    });
  }
}
