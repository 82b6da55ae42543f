import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Write a file whole or not at all: a temporary file beside it, then a rename. */
export function writeFileAtomic(path: string, content: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`);
  try {
    writeFileSync(temp, content, { mode: 0o644 });
    renameSync(temp, path);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // the temporary file was never made
    }
    throw err;
  }
}

/**
 * Which version of a file this is (inode, size, modification time), or null
 * when it is not a readable regular file. Tools that change such files
 * (git config, a package upgrade) replace them, so a change shows here.
 */
export function fileStamp(path: string): string | null {
  try {
    const st = statSync(path, { bigint: true });
    return st.isFile() ? `${path} ${st.ino} ${st.size} ${st.mtimeNs}` : null;
  } catch {
    return null;
  }
}

/**
 * A cache file whose first line is the stamp of what it was computed from:
 * its text when the stamp still matches, else null. Take the stamp before
 * reading the source, so a change made meanwhile is read again next time.
 */
export function readStamped(cache: string, stamp: string | null): string | null {
  if (!stamp) return null;
  try {
    const text = readFileSync(cache, "utf8");
    const nl = text.indexOf("\n");
    return nl >= 0 && text.slice(0, nl) === stamp ? text.slice(nl + 1) : null;
  } catch {
    return null;
  }
}

/** Keep `text` in a cache file under `stamp`; only a cache, so a failure is ignored. */
export function writeStamped(cache: string, stamp: string, text: string): void {
  try {
    writeFileAtomic(cache, `${stamp}\n${text}`);
  } catch {
    // The next run computes it again.
  }
}
