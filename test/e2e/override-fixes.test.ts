// What an override brings is recorded as security fixes only when it stood in
// for a promotion's missing CI pass: also when post-receive died and sync records it late.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
  sb.grant("security", "ada");
  work.git(["fetch", "--quiet", "origin"]);
  work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
});
afterEach(() => sb.cleanup());

const fixes = () => sb.json<{ sha: string }[]>(["security"]).map((f) => f.sha);

describe("an override whose post-receive died", () => {
  it("of a promotion lacking only its CI pass: sync records its fixes", () => {
    const fix = work.commit("Fix auth bypass", { "auth.c": "check\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    const r = work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override=CI is down"], "ada", {
      PRODGATE_FAULT: "before-fixes-recorded",
    });
    expect(sb.tip("production-stable")).toBe(fix);
    expect(r.output).not.toContain("recorded 1 security fix");
    expect(fixes()).toEqual([]);
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(fixes()).toEqual([fix]);
  });

  it("of content off production-devel, with a CI tag overridden in the same push: sync records nothing", () => {
    const own = work.commit("Emergency: my change", { "importer.c": "off\n" });
    work.git(["tag", "ci/pass/x", own]);
    const r = work.push(["origin", "HEAD:production-stable", "ci/pass/x", "-o", "prodgate.override=incident 9"], "ada", {
      PRODGATE_FAULT: "before-fixes-recorded",
    });
    expect(sb.tip("production-stable")).toBe(own);
    expect(r.output).not.toContain("security fix");
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(fixes()).toEqual([]);
  });
});
