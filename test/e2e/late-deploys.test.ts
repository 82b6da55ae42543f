// Deploy tags recorded late: post-receive is killed before it records the tag,
// an operator records a deployment by command, and `sync` records the tag. The
// tag speaks as of its acceptance: a deployment recorded since stands, and the
// tag is kept in the history as superseded, telling no pipeline it is current.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
const OPS = "otto";

interface DeployRow {
  id: number;
  sha: string;
  source: string;
  acceptedAt: string | null;
  supersededBy: number | null;
}
interface EventRow {
  type: string;
  data: { sha?: string; target?: string; source?: string };
}
interface LogRow {
  ref: string | null;
  new: string | null;
  decision: string;
  code: string | null;
  reason: string | null;
  detail: string | null;
}

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  sb.grant("ops", OPS);
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
});
afterEach(() => sb.cleanup());

/** Push a deploy tag whose post-receive is killed before it records anything: accepted, landed, never recorded. */
function pushKilled(tag: string, at: string): void {
  work.git(["tag", tag, at]);
  const push = work.push(["origin", `refs/tags/${tag}`], OPS, { PRODGATE_FAULT: "before-deploy-recorded" });
  expect(push.status, push.output).toBe(0);
  expect(sb.tip(`refs/tags/${tag}`)).toBe(work.sha(at));
}

function sync(): string {
  const r = sb.prodgate(["sync"]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** Land a new commit on devel and stable and let QA's ok take it to production-stable; its sha. */
function release(subject: string): string {
  const sha = work.commit(subject, { [`${subject.split(":")[0]}.txt`]: `${subject}\n` });
  work.land();
  expect(sb.prodgate(["qa", "ok", sha], "quinn").status).toBe(0);
  expect(sb.tip("production-stable")).toBe(sha);
  return sha;
}

const runs = (target: string) => sb.json<{ sha: string | null }[]>(["deploy", "status", target])[0]!.sha;
const deployLog = (target: string) => sb.json<DeployRow[]>(["deploy", "log", target]);
const deployEvents = () => sb.json<EventRow[]>(["events", "--type", "deploy.recorded"]);

describe("a deploy tag recorded late", () => {
  it("does not displace a deployment recorded after the tag was accepted: kept as superseded history, no deploy.recorded event", () => {
    const r1 = sb.tip("production-stable")!;
    pushKilled("deploy/app3/old", r1);
    const r2 = release("r2: next");
    expect(sb.prodgate(["deploy", "record", "app3", "r2"], OPS).status).toBe(0);

    const out = sync();
    expect(out).toContain("superseded");
    expect(runs("app3")).toBe(r2);
    expect(sb.prodgate(["deploy", "check", "app3"]).status).toBe(0);

    // History: the tag is there, placed by its acceptance (before r2's record), naming what stands.
    const history = deployLog("app3");
    expect(history.map((d) => d.sha)).toEqual([r2, r1]);
    expect(history[1]).toMatchObject({ source: "tag refs/tags/deploy/app3/old", supersededBy: history[0]!.id });
    expect(history[1]!.acceptedAt).not.toBeNull();
    expect(history[0]).toMatchObject({ source: "command", supersededBy: null, acceptedAt: null });
    const text = sb.prodgate(["deploy", "log", "app3"]).stdout;
    expect(text).toMatch(/recorded late; superseded by #\d+/);

    // No pipeline is told r1 is what runs on app3 now.
    expect(
      deployEvents()
        .filter((e) => e.data.target === "app3")
        .map((e) => e.data.sha),
    ).toEqual([r2]);
    const trace = sb.json<LogRow[]>(["log", "--ref", "deploy/app3"]).filter((e) => e.new === r1);
    expect(trace).toHaveLength(1);
    expect(trace[0]).toMatchObject({ decision: "deploy", code: "superseded", detail: "tag refs/tags/deploy/app3/old" });
    expect(trace[0]!.reason).toContain("the newer deployment stands");

    // Recorded once.
    expect(sync()).not.toContain("superseded");
    expect(deployLog("app3")).toHaveLength(2);
    expect(runs("app3")).toBe(r2);
  });

  it("replaces a deployment recorded before the tag was accepted, as post-receive would have, and tells of it", () => {
    const r1 = sb.tip("production-stable")!;
    expect(sb.prodgate(["deploy", "record", "app3", "r1"], OPS).status).toBe(0);
    const r2 = release("r2: next");
    pushKilled("deploy/app3/new", r2);

    expect(sync()).not.toContain("superseded");
    expect(runs("app3")).toBe(r2);
    const history = deployLog("app3");
    expect(history.map((d) => [d.sha, d.supersededBy])).toEqual([
      [r2, null],
      [r1, null],
    ]);
    expect(history[0]!.acceptedAt).not.toBeNull();
    // It runs there since the tag was pushed, not since sync found it.
    expect(sb.json<{ at: string }[]>(["deploy", "status", "app3"])[0]!.at).toBe(history[0]!.acceptedAt);
    expect(deployEvents().map((e) => e.data.sha)).toEqual([r2, r1]);
  });

  it("several late tags take effect in the order they were accepted", () => {
    const r1 = sb.tip("production-stable")!;
    pushKilled("deploy/app3/first", r1);
    const r2 = release("r2: next");
    pushKilled("deploy/app3/second", r2);

    expect(sync()).not.toContain("superseded");
    expect(runs("app3")).toBe(r2);
    expect(deployLog("app3").map((d) => [d.sha, d.supersededBy])).toEqual([
      [r2, null],
      [r1, null],
    ]);
  });

  it("retires no cowboy when a newer deployment stands: the hot patch stays live and deploy check keeps guarding it", () => {
    const r1 = sb.tip("production-stable")!;
    // A hot fix on a branch of its own, applied by hand on app3, then deployed by tag (post-receive killed).
    work.git(["checkout", "--quiet", "-B", "hotfix", r1]);
    const fix = work.commit("Fix the crash", { "crash.c": "do not crash\n" });
    expect(work.push(["origin", "hotfix"], "dev").status).toBe(0);
    work.git(["checkout", "--quiet", "devel"]);
    const add = sb.prodgate(["cowboy", "add", "app3", "--commit", fix, "--reason", "crash at midnight", "--json"], OPS);
    expect(add.status, add.stderr).toBe(0);
    const id = (JSON.parse(add.stdout) as { id: number }).id;
    pushKilled("deploy/app3/hot", fix);
    // Then production-stable (without the fix) is rolled out over it and recorded.
    expect(sb.prodgate(["deploy", "record", "app3", "production-stable"], OPS).status).toBe(0);

    sync();
    expect(runs("app3")).toBe(r1);
    const cowboy = sb.json<{ id: number; targets: { target: string; live: boolean }[] }[]>(["cowboy", "list"]).find((c) => c.id === id)!;
    expect(cowboy.targets).toEqual([expect.objectContaining({ target: "app3", live: true })]);
    expect(sb.prodgate(["deploy", "check", "app3"]).status).toBe(1);
  });
});
