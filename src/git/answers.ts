import { readdirSync, readFileSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { GitResult } from "./run";

/**
 * The answers the pre-receive shim got from git while Node started: in
 * <git dir>/prodgate/prefetch.<pid>, files N.q (the query, as queryKey writes
 * it), N.out and N.status. The directory is removed once read. Anything else
 * (another place, a missing file) is ignored: the engine then asks git itself.
 */
export function takeShimAnswers(dir: string | undefined, gitDir: string): Map<string, GitResult> {
  const answers = new Map<string, GitResult>();
  if (!dir) return answers;
  const path = resolve(dir);
  if (dirname(path) !== join(gitDir, "prodgate") || !/^prefetch\.[0-9]+$/.test(basename(path))) return answers;
  try {
    for (const name of readdirSync(path)) {
      const m = /^([0-9]+)\.q$/.exec(name);
      if (!m) continue;
      try {
        const status = Number(readFileSync(join(path, `${m[1]}.status`), "utf8").trim());
        const stdout = readFileSync(join(path, `${m[1]}.out`), "utf8");
        answers.set(readFileSync(join(path, name), "utf8"), { status, stdout, stderr: "" });
      } catch {
        // An answer the shim did not finish: asked again.
      }
    }
  } catch {
    // No answers at all.
  }
  rmSync(path, { recursive: true, force: true });
  return answers;
}
