import { readdirSync, readFileSync, unlinkSync } from "node:fs";
import { ownDir } from "../store/dirs";
import { basename, dirname, join, resolve } from "node:path";
import type { GitResult } from "./run";

/** Where the hook shims leave git's answers: <git dir>/prodgate/prefetch/. */
export function answersDir(gitDir: string): string {
  return join(gitDir, "prodgate", "prefetch");
}

/**
 * The answers a hook shim got from git while Node started: files
 * <pid>.N.q (the query, as queryKey writes it), <pid>.N.out and
 * <pid>.N.status in prodgate/prefetch/, where `prefix` is .../prefetch/<pid>,
 * for N from 1 to the count in <pid>.n, which the shim writes once it has
 * finished them (files of a higher N were left by an earlier process of that
 * pid). The shim asked them in the same hardened environment (hooks/common.sh,
 * ./env.ts), and Git takes each only for exactly its query. The files are
 * removed once read. Anything else (another place, a missing file, no count)
 * is ignored: the engine then asks git itself. Creates the folder when it is
 * missing, so the next push's shim can use it.
 */
export function takeShimAnswers(prefix: string | undefined, gitDir: string): Map<string, GitResult> {
  const answers = new Map<string, GitResult>();
  const dir = answersDir(gitDir);
  if (!prefix) {
    try {
      ownDir(dir);
    } catch {
      // Only an aid to speed.
    }
    return answers;
  }
  const path = resolve(prefix);
  const pid = basename(path);
  if (dirname(path) !== dir || !/^[0-9]+$/.test(pid)) return answers;
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((name) => name.startsWith(`${pid}.`));
  } catch {
    return answers;
  }
  let finished = 0;
  try {
    const text = readFileSync(join(dir, `${pid}.n`), "utf8");
    if (/^[0-9]+\n$/.test(text)) finished = Number(text);
  } catch {
    // No count: no answer is taken.
  }
  for (const name of names) {
    const m = /^[0-9]+\.([1-9][0-9]*)\.q$/.exec(name);
    if (!m || Number(m[1]) > finished) continue;
    try {
      const statusText = readFileSync(join(dir, `${pid}.${m[1]}.status`), "utf8");
      if (!/^[0-9]+\n$/.test(statusText)) continue;
      const status = Number(statusText);
      const stdout = readFileSync(join(dir, `${pid}.${m[1]}.out`), "utf8");
      answers.set(readFileSync(join(dir, name), "utf8"), { status, stdout, stderr: "" });
    } catch {
      // An answer the shim did not finish: asked again.
    }
  }
  for (const name of names) {
    try {
      unlinkSync(join(dir, name));
    } catch {
      // Already gone.
    }
  }
  return answers;
}
