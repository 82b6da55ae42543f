// A security fix that came back in a shape no check recognises (the same push
// edited its lines further) stays pending; the security team acknowledges it
// back by hand, with a reason the audit log keeps.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
let fix: string;

interface Fix {
  sha: string;
  devel: { sha: string; at: string; how: string } | null;
  stable: { sha: string; at: string; how: string } | null;
}

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
  work.git(["fetch", "--quiet", "origin"]);
  work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
  fix = work.commit("Fix auth bypass", { "auth.c": "check the password\n" });
  expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
  expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
  const promoted = work.push(["origin", "secfix:production-stable"], "sam");
  expect(promoted.status, promoted.output).toBe(0);
  // Into devel, with its line reshaped in the same push: not back by any check.
  work.git(["checkout", "--quiet", "devel"]);
  work.git(["merge", "--quiet", "--no-edit", "secfix"]);
  work.commit("Check the password twice", { "auth.c": "check the password, twice\n" });
  const pushed = work.push(["origin", "HEAD:devel"], "dev");
  expect(pushed.status, pushed.output).toBe(0);
  expect(sb.json<Fix[]>(["security"])[0]!.devel).toBeNull();
});
afterEach(() => sb.cleanup());

describe("security ack", () => {
  it("marks the fix back by hand for the security role, with the reason in the log and the event", () => {
    const r = sb.prodgate(["security", "ack", fix.slice(0, 8), "devel", "--reason", "reshaped on merge, checked by hand"], "sam");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`acknowledged back in devel at ${sb.tip("devel")!.slice(0, 7)} by sam`);
    const [f] = sb.json<Fix[]>(["security"]);
    expect(f!.devel).toMatchObject({ how: "acknowledged", sha: sb.tip("devel") });
    expect(f!.stable).toBeNull();
    const log = sb.json<{ decision: string; code: string; user: string; detail: string }[]>(["log", "--limit", "5"]);
    expect(log.find((e) => e.decision === "merge-back" && e.code === "acknowledged")).toMatchObject({
      code: "acknowledged",
      user: "sam",
      detail: "reshaped on merge, checked by hand",
    });
    const [back] = sb.json<{ data: Record<string, unknown> }[]>(["events", "--type", "fix.back"]);
    expect(back!.data).toMatchObject({ fix, branch: "devel", how: "acknowledged", note: "reshaped on merge, checked by hand" });
    expect(sb.json<{ securityPending: { sha: string }[] }>(["status"]).securityPending.map((p) => p.sha)).toEqual([fix]);
    // Again: nothing changes.
    const again = sb.prodgate(["security", "ack", fix, "devel", "--reason", "again"], "sam");
    expect(again.status).toBe(0);
    expect(again.stdout).toContain("already back in devel");
    const acks = sb.json<{ decision: string; code: string }[]>(["log", "--limit", "20"]).filter((e) => e.code === "acknowledged");
    expect(acks).toHaveLength(1);
  });

  it("refuses a developer, and bad input, in one line each, changing nothing", () => {
    const cases: [string[], string | undefined, number, string][] = [
      [["security", "ack", fix, "devel", "--reason", "trust me"], "dev", 2, "needs the admin or security role"],
      [["security", "ack", "deadbeef", "devel", "--reason", "x"], "sam", 1, "no security fix deadbeef is recorded"],
      [["security", "ack", "xyz!", "devel", "--reason", "x"], "sam", 2, "is not a security fix's sha"],
      [["security", "ack", fix, "production-stable", "--reason", "x"], "sam", 2, "the branch is devel or stable"],
      [["security", "ack", fix, "devel", "--reason", " "], "sam", 2, "say why"],
    ];
    for (const [args, user, status, text] of cases) {
      const r = sb.prodgate(args, user);
      expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(status);
      expect(r.stderr).toContain(text);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(sb.json<Fix[]>(["security"])[0]).toMatchObject({ devel: null, stable: null });
  });
});
