import Database from "better-sqlite3";
import { join } from "node:path";
import { UserError } from "../errors";
import { nativeBinding } from "../store/native";

/**
 * One mirror at a time per repository. The lock is an exclusive SQLite
 * transaction on a file of its own: the kernel drops it when its holder dies,
 * so a killed process can never leave it held.
 */
export function withMirrorLock<T>(gitDir: string, fn: () => T, timeoutMs = 60_000): T {
  const path = join(gitDir, "prodgate", "mirror.lock");
  const db = new Database(path, { timeout: timeoutMs, nativeBinding: nativeBinding() });
  try {
    try {
      db.exec("BEGIN EXCLUSIVE");
    } catch (err) {
      if (!String((err as { code?: unknown }).code).startsWith("SQLITE_BUSY")) throw err;
      throw new UserError(
        `another mirror run held the mirror lock (${path}) for ${timeoutMs / 1000} s, so the mirror did not run; run prodgate sync later, and if it lasts find the holder with: fuser ${path}`,
        1,
      );
    }
    try {
      return fn();
    } finally {
      db.exec("ROLLBACK");
    }
  } finally {
    db.close();
  }
}
