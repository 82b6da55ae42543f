// overrides and deploy status judge revisions as the deployable walk does: a developer's own markers never count there either.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
});
afterEach(() => sb.cleanup());

describe("markers a developer pushed", () => {
  it("[incr] and [no-qa] landed by a developer count neither in overrides nor in deploy status", () => {
    sb.grant("ops", "otto");
    expect(sb.prodgate(["deploy", "record", "app3.prod", "production-stable"], "otto").status).toBe(0);
    const part1 = work.commit("[incr] [bug=5] part 1");
    work.land("dev");
    const part2 = work.commit("[bug=5] part 2");
    work.land("dev");
    const noqa = work.commit("[no-qa] docs only");
    work.land("dev");
    const o = work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override=incident 8"], "ada");
    expect(o.status, o.output).toBe(0);
    expect(sb.prodgate(["qa", "ok", "r3"], "quinn").status).toBe(0);
    const want = [
      [part1, "needstesting"],
      [part2, "ok"],
      [noqa, "needstesting"],
    ];
    const overrides = sb.json<{ state: string; commits: { sha: string; verdict: string }[] }[]>(["overrides"]);
    expect(overrides[0]!.commits.map((c) => [c.sha, c.verdict])).toEqual(want);
    expect(overrides[0]!.state).not.toBe("judged");
    const deploy = sb.json<{ behind: { revisions: { sha: string; verdict: string }[] } }[]>(["deploy", "status", "app3.prod"]);
    expect(deploy[0]!.behind.revisions.map((r) => [r.sha, r.verdict])).toEqual(want);
  });
});
