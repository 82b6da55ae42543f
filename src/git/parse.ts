import type { CommitInfo } from "../policy/types";

/** The `git log` format that parseCommits reads: use with -z. */
export const COMMIT_FORMAT = "--format=%m%H%x1f%P%x1f%B";

export interface ParsedCommit extends CommitInfo {
  /** git's %m mark: "-" for a boundary commit, otherwise ">", "<" or " ". */
  mark: string;
}

/**
 * Parse `git log -z --format=%m%H%x1f%P%x1f%B` output. Every walk of stable
 * reads thousands of records in a process that runs this once, so each is
 * cut out of the output by index, with no intermediate array or regex: a
 * record is its text up to the next NUL; one newline before the mark is not
 * part of it (git puts it between records), nor are the newlines ending the
 * message; a record without its two field separators is skipped.
 */
export function parseCommits(output: string): ParsedCommit[] {
  const commits: ParsedCommit[] = [];
  const length = output.length;
  let start = 0;
  while (start < length) {
    let end = output.indexOf("\0", start);
    if (end < 0) end = length;
    const first = output.indexOf("\x1f", start);
    const second = first < 0 || first >= end ? -1 : output.indexOf("\x1f", first + 1);
    if (second >= 0 && second < end) {
      const head = output.charCodeAt(start) === 10 ? start + 1 : start;
      const mark = head < first ? output[head]! : "";
      const sha = head < first ? output.slice(head + 1, first) : "";
      const parentText = output.slice(first + 1, second);
      const parents = parentText === "" ? [] : parentText.split(" ");
      let last = end;
      while (last > second + 1 && output.charCodeAt(last - 1) === 10) last--;
      const message = output.slice(second + 1, last);
      const newline = message.indexOf("\n");
      const subject = newline < 0 ? message : message.slice(0, newline);
      commits.push({ mark, sha, parents: parents.includes("") ? parents.filter(Boolean) : parents, subject, message });
    }
    start = end + 1;
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
