import type { ParsedCommit } from "../../../src/git/parse";

/** parseCommits as it was before it cut records out by index (the oracle of test/unit/walk-differential.test.ts). */
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
