import Database from "better-sqlite3";
import { join } from "node:path";
import { nativeBinding } from "../store/native";

/** The deliverer's lock file, in the repository's prodgate/ directory. */
export function deliverLockPath(prodgateDir: string): string {
  return join(prodgateDir, "deliver.lock");
}

/**
 * Take the deliverer's lock without waiting: an exclusive SQLite transaction
 * on a file of its own, which the kernel drops when its holder dies. Null
 * when another process holds it. The holder lets go with ROLLBACK and close.
 */
export function tryDeliverLock(path: string): Database.Database | null {
  const db = new Database(path, { timeout: 0, nativeBinding: nativeBinding() });
  try {
    db.exec("BEGIN EXCLUSIVE");
    return db;
  } catch (err) {
    db.close();
    if (String((err as { code?: unknown })?.code ?? "").startsWith("SQLITE_BUSY")) return null;
    throw err;
  }
}

/**
 * Is a deliverer running now? It holds the lock from before its first pass
 * until after its last, and looks for new events once more after letting
 * go (a one-pass run, sync's, starts a deliverer for them), so events
 * written before this answered true are delivered.
 */
export function delivererHoldsLock(prodgateDir: string): boolean {
  const lock = tryDeliverLock(deliverLockPath(prodgateDir));
  if (!lock) return true;
  lock.exec("ROLLBACK");
  lock.close();
  return false;
}
