// Revision numbers come from a cache of counted commits; they must equal the
// first-parent count git gives, through merges and after many pushes.
import { afterEach, beforeEach, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
});
afterEach(() => sb.cleanup());

const count = (sha: string) => Number(sb.git(["rev-list", "--first-parent", "--count", sha], { cwd: sb.bare }));

it("numbers mainline commits as git counts them, across merges and pushes", () => {
  work.git(["checkout", "--quiet", "-b", "side", "devel~0"]);
  work.commit("side 1");
  work.commit("side 2");
  work.git(["checkout", "--quiet", "devel"]);
  work.commit("r2");
  work.git(["merge", "--quiet", "--no-ff", "-m", "r3: merge side", "side"]);
  work.land();
  for (let i = 4; i <= 6; i++) {
    work.commit(`r${i}`);
    work.land();
  }
  type Status = { branches: Record<string, { sha: string; revno: number }>; pending: { sha: string; revno: number }[] };
  for (let round = 0; round < 2; round++) {
    const status = sb.json<Status>(["status"], "ada");
    expect(status.branches.stable!.revno).toBe(6);
    expect(status.branches.stable!.revno).toBe(count(status.branches.stable!.sha));
    for (const p of status.pending) expect(p.revno).toBe(count(p.sha));
  }
  const r = work.push(["origin", "HEAD~1:refs/tags/qa/ok/five"], "quinn");
  expect(r.status, r.output).toBe(0);
  expect(sb.prodgate(["log", "--limit", "20"], "ada").stdout).toContain("ok for r5");
  // A commit merged in from a side branch is on stable but not on its mainline.
  const side = work.push(["origin", "side~1:refs/tags/qa/ok/side"], "quinn");
  expect(side.status).not.toBe(0);
  expect(side.output).toContain("[verdict-target]");
});
