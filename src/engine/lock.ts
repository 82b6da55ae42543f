import Database from "better-sqlite3";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors";
import { nativeBinding } from "../store/native";

/** Lock files this process holds, with how many callers inside: the lock is re-entrant. */
const held = new Map<string, number>();

/**
 * One mirror at a time per repository, and nothing that changes what is
 * deployable (verdicts, CI results, freeze, thaw) while a mirror decides and
 * moves production-stable: whoever holds this lock sees every such change
 * that returned before it took the lock, and none happens until it lets go.
 * The lock is an exclusive SQLite transaction on a file of its own: the
 * kernel drops it when its holder dies, so a killed process can never leave
 * it held. A caller already inside the lock (in this process) just runs.
 */
export function withMirrorLock<T>(gitDir: string, fn: () => T, timeoutMs = 60_000): T {
  const path = join(gitDir, "prodgate", "mirror.lock");
  const depth = held.get(path) ?? 0;
  if (depth > 0) {
    held.set(path, depth + 1);
    try {
      return fn();
    } finally {
      held.set(path, depth);
    }
  }
  const db = new Database(path, { timeout: 0, nativeBinding: nativeBinding() });
  try {
    acquire(db, path, timeoutMs);
    held.set(path, 1);
    try {
      return fn();
    } finally {
      held.delete(path);
      db.exec("ROLLBACK");
    }
  } finally {
    db.close();
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}

function acquire(db: Database.Database, path: string, timeoutMs: number): void {
  try {
    db.exec("BEGIN EXCLUSIVE");
    return;
  } catch (err) {
    if (!isBusy(err)) throw err;
  }
  // Someone else holds it. Tests wait for this line to know a process is queued here.
  const note = process.env.PRODGATE_LOCK_WAIT_NOTE;
  if (note) {
    try {
      appendFileSync(note, `${process.pid} waits for the mirror lock\n`);
    } catch {
      // Only a note.
    }
  }
  db.pragma(`busy_timeout = ${timeoutMs}`);
  try {
    db.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    if (!isBusy(err)) throw err;
    throw new UserError(
      `another mirror run held the mirror lock (${path}) for ${Math.round(timeoutMs / 1000)} s, so nothing was done; run prodgate sync later (or the command again), and if it lasts find the holder with: fuser ${path}`,
      1,
    );
  }
}
