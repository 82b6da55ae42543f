// A governed branch an override deleted comes back only with the history it had.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
});
afterEach(() => sb.cleanup());

describe("a governed branch deleted by an admin's override", () => {
  it("comes back only with its old tip on the new tip's first-parent chain", () => {
    work.commit("r2: reviewed", { "a.txt": "a\n" });
    work.land();
    const old = sb.tip("stable")!;
    const del = work.push(["-o", "prodgate.override=clean-up", "origin", ":refs/heads/stable"], "ada");
    expect(del.status, del.output).toBe(0);
    expect(sb.tip("stable")).toBeNull();
    // Another history, merged with the old one second: every revno after r1 would change.
    work.git(["checkout", "--quiet", "-B", "other", `${old}~1`]);
    work.commit("r2: something else", { "b.txt": "b\n" });
    work.git(["merge", "--quiet", "--no-edit", old]);
    expect(work.push(["origin", "HEAD:devel", "--force", "-o", "prodgate.override=x"], "ada").status).toBe(0);
    const back = work.push(["origin", "HEAD:stable"], "dev");
    expect(back.output).toContain("[renumbers]");
    expect(sb.tip("stable")).toBeNull();
    // Its old history continued: taken.
    expect(work.push(["origin", `${old}:refs/heads/stable`], "dev").status).toBe(0);
  });
});
