// deploy check holds a cowboy for held only where a revision holds its change at its place.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
const OPS = "otto";

const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}\n`).join("");
const BASE = lines(1, 20);
const FIXED = lines(1, 10) + "do_not_crash()\n" + lines(11, 20);
const DECOY = BASE + "/* example:\n" + lines(8, 10) + "do_not_crash()\n" + lines(11, 13) + "*/\n";

/** Land the current devel HEAD on devel and stable, approve it, and let the mirror take it to production-stable. */
function landAndApprove(): void {
  work.land();
  const r = sb.prodgate(["qa", "ok", "production-stable..stable"], "quinn");
  expect(r.status, r.stderr + r.stdout).toBe(0);
  expect(sb.tip("production-stable")).toBe(sb.tip("stable"));
}

let fix: string;
let id: number;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  sb.grant("ops", OPS);
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
  work.commit("r2: lib", { "lib.c": BASE });
  landAndApprove();
  expect(sb.prodgate(["deploy", "record", "app3.prod", "production-stable"], OPS).status).toBe(0);
  // The hot patch, on a branch of its own, applied by hand on app3.prod.
  work.git(["checkout", "--quiet", "-B", "hotfix", "devel"]);
  fix = work.commit("Fix the crash", { "lib.c": FIXED });
  expect(work.push(["origin", "hotfix"], "dev").status).toBe(0);
  work.git(["checkout", "--quiet", "devel"]);
  const r = sb.prodgate(["cowboy", "add", "app3.prod", "--commit", fix, "--reason", "app crashes at midnight", "--json"], OPS);
  expect(r.status, r.stderr).toBe(0);
  id = (JSON.parse(r.stdout) as { id: number }).id;
});
afterEach(() => sb.cleanup());

describe("a cowboy's fix", () => {
  it("merged, reverted, with a copy of its lines elsewhere in the file: not held, the check fails", () => {
    work.git(["merge", "--quiet", "--no-edit", "hotfix"]);
    work.git(["revert", "--no-edit", fix]);
    work.commit("docs: example", { "lib.c": DECOY });
    landAndApprove();
    const r = sb.prodgate(["deploy", "check", "app3.prod"]);
    expect(r.status, r.stdout).toBe(1);
    expect(r.stdout).toContain(`cowboy #${id}`);
  });

  it("picked without -x (same patch-id), reverted, with a copy of its lines elsewhere: not held", () => {
    work.commit("other work", { "other.c": "x\n" });
    work.git(["cherry-pick", fix]);
    work.git(["revert", "--no-edit", "HEAD"]);
    work.commit("docs: example", { "lib.c": DECOY });
    landAndApprove();
    const r = sb.prodgate(["deploy", "check", "app3.prod"]);
    expect(r.status, r.stdout).toBe(1);
    expect(r.stdout).toContain(`cowboy #${id}`);
  });

  it("merged and kept, with work above it in the file: held, the check passes", () => {
    work.git(["merge", "--quiet", "--no-edit", "hotfix"]);
    work.commit("more lib", { "lib.c": "header\n" + FIXED });
    landAndApprove();
    const r = sb.prodgate(["deploy", "check", "app3.prod"]);
    expect(r.status, r.stdout).toBe(0);
  });
});
