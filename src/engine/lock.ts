import Database from "better-sqlite3";
import { join } from "node:path";
import { nativeBinding } from "../store/native";

/**
 * One mirror at a time per repository. The lock is an exclusive SQLite
 * transaction on a file of its own: the kernel drops it when its holder dies,
 * so a killed process can never leave it held.
 */
export function withMirrorLock<T>(gitDir: string, fn: () => T, timeoutMs = 60_000): T {
  const db = new Database(join(gitDir, "prodgate", "mirror.lock"), { timeout: timeoutMs, nativeBinding: nativeBinding() });
  try {
    db.exec("BEGIN EXCLUSIVE");
    try {
      return fn();
    } finally {
      db.exec("ROLLBACK");
    }
  } finally {
    db.close();
  }
}
