import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Write a file whole or not at all: a temporary file beside it, then a rename. */
export function writeFileAtomic(path: string, content: string | Buffer): void {
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

/**
 * A cache file that holds a copy of the file it was computed from: its text
 * when `source` (that file's bytes now) is byte for byte the copy, else null.
 * Read the source before computing from it, so a change made meanwhile is
 * computed again next time. Exact where a file's stamp is not: a file put
 * in place with an older time, or a clock stepped back, shows here.
 */
export function readCopied(cache: string, source: Buffer): string | null {
  try {
    const data = readFileSync(cache);
    const nl = data.indexOf(10);
    const length = nl > 0 ? Number(data.subarray(0, nl).toString("latin1")) : NaN;
    if (!Number.isSafeInteger(length) || length !== source.length) return null;
    const copy = data.subarray(nl + 1, nl + 1 + length);
    return copy.equals(source) ? data.subarray(nl + 1 + length).toString("utf8") : null;
  } catch {
    return null;
  }
}

/** Keep `text` in a cache file with a copy of `source`; only a cache, so a failure is ignored. */
export function writeCopied(cache: string, source: Buffer, text: string): void {
  try {
    writeFileAtomic(cache, Buffer.concat([Buffer.from(`${source.length}\n`, "latin1"), source, Buffer.from(text, "utf8")]));
  } catch {
    // The next run computes it again.
  }
}
