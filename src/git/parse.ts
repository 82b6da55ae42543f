import type { CommitInfo } from "../policy/types";

/** The `git log` format that parseCommits reads: use with -z. */
export const COMMIT_FORMAT = "--format=%m%H%x1f%P%x1f%B";

export interface ParsedCommit extends CommitInfo {
  /** git's %m mark: "-" for a boundary commit, otherwise ">", "<" or " ". */
  mark: string;
}

/** Parse `git log -z --format=%m%H%x1f%P%x1f%B` output. */
export function parseCommits(output: string): ParsedCommit[] {
  const commits: ParsedCommit[] = [];
  for (const record of output.split("\0")) {
    if (record.trim() === "") continue;
    const first = record.indexOf("\x1f");
    const second = record.indexOf("\x1f", first + 1);
    if (first < 0 || second < 0) continue;
    const head = record.slice(0, first).replace(/^\n/, "");
    const mark = head.slice(0, 1);
    const sha = head.slice(1);
    const parents = record
      .slice(first + 1, second)
      .split(" ")
      .filter(Boolean);
    const message = record.slice(second + 1).replace(/\n+$/, "");
    const subject = message.split("\n", 1)[0] ?? "";
    commits.push({ mark, sha, parents, subject, message });
  }
  return commits;
}

export interface RefTip {
  ref: string;
  sha: string;
}

/** Parse `git for-each-ref --format=%(refname)%00%(objectname)` output. */
export function parseRefTips(output: string): RefTip[] {
  return output
    .split("\n")
    .filter((line) => line.includes("\0"))
    .map((line) => {
      const [ref, sha] = line.split("\0");
      return { ref: ref!, sha: sha! };
    });
}

/** Parse `git patch-id` output ("<patch-id> <commit>" per line) into commit → patch-id. */
export function parsePatchIds(output: string): Map<string, string> {
  const ids = new Map<string, string>();
  for (const line of output.split("\n")) {
    const [patchId, commit] = line.trim().split(/\s+/);
    if (patchId && commit) ids.set(commit, patchId);
  }
  return ids;
}

/** Paths reported as conflicted by `git merge-tree --write-tree --name-only`. */
export function parseMergeTreeConflicts(output: string): { tree: string; paths: string[] } {
  const [tree = "", ...rest] = output.split("\n");
  const paths: string[] = [];
  for (const line of rest) {
    if (line === "") break; // conflicted-file list ends at the first blank line
    paths.push(line);
  }
  return { tree, paths: [...new Set(paths)] };
}
