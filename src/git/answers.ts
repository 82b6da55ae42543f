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
 * <pid>.N.status in prodgate/prefetch/, where `prefix` is .../prefetch/<pid>.
 * The files are removed once read. Anything else (another place, a missing
 * file) is ignored: the engine then asks git itself. Creates the folder when
 * it is missing, so the next push's shim can use it.
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
  for (const name of names) {
    const m = /^[0-9]+\.([0-9]+)\.q$/.exec(name);
    if (!m) continue;
    try {
      const status = Number(readFileSync(join(dir, `${pid}.${m[1]}.status`), "utf8").trim());
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
