// Verdict and CI tags recorded late: post-receive is killed before it records
// the tag, QA (or CI) speaks by command, and `sync` records the tag. The tag
// speaks as of its acceptance: a verdict given since stands, one given before
// is overtaken, and the log keeps a trace of a tag that was not applied.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { until } from "../helpers/background";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

/** A command run in the background; resolves with its status and output. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ status: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("close", (status) => resolve({ status: status ?? -1, output }));
  });
}

let sb: Sandbox;
let work: Clone;

interface LogRow {
  ref: string | null;
  new: string | null;
  decision: string;
  code: string | null;
  reason: string | null;
  detail: string | null;
}
interface Pending {
  sha: string;
  revno: number;
  verdict: string;
  byTicket?: { ticket: string; verdict: string }[];
}

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
});
afterEach(() => sb.cleanup());

const log = () => sb.json<LogRow[]>(["log", "--limit", "100000"]);
const undeployed = () => sb.json<{ undeployed: Pending[] }>(["status"]).undeployed;

/** Push a tag whose post-receive is killed before it records anything: accepted, landed, never recorded. */
function pushKilled(tag: string, at: string, user: string, step = "before-verdict-recorded"): void {
  work.git(["tag", tag, at]);
  const push = work.push(["origin", `refs/tags/${tag}`], user, { PRODGATE_FAULT: step });
  expect(push.status, push.output).toBe(0);
  expect(sb.tip(`refs/tags/${tag}`)).toBe(work.sha(at));
}

function sync(): string {
  const r = sb.prodgate(["sync"]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe("a revision verdict tag recorded late", () => {
  it("does not override a verdict QA gave by command after the tag was accepted; the log says it was superseded", () => {
    const r1 = sb.tip("production-stable");
    const r2 = work.commit("r2: risky");
    work.land();
    pushKilled("qa/ok/r2", r2, "quinn");
    expect(sb.prodgate(["qa", "bad", "r2"], "quinn").status).toBe(0);

    const out = sync();
    expect(out).toContain("not applied");
    expect(sb.tip("production-stable")).toBe(r1);
    expect(undeployed().find((p) => p.sha === r2)?.verdict).toBe("bad");
    const trace = log().filter((e) => e.ref === "refs/tags/qa/ok/r2" && e.decision === "verdict");
    expect(trace).toHaveLength(1);
    expect(trace[0]).toMatchObject({ code: "superseded", new: r2, detail: "tag refs/tags/qa/ok/r2" });
    expect(trace[0]!.reason).toMatch(/^ok for r2 [0-9a-f]{7} not applied: .* the newer verdict stands: bad by quinn/);

    // Recorded once: a second sync adds nothing and still keeps r2 out.
    expect(sync()).not.toContain("not applied");
    expect(log().filter((e) => e.ref === "refs/tags/qa/ok/r2" && e.decision === "verdict")).toHaveLength(1);
    expect(sb.tip("production-stable")).toBe(r1);
  });

  it("overrides a verdict given by command before the tag was accepted, as post-receive would have", () => {
    const r2 = work.commit("r2: fixed since");
    work.land();
    expect(sb.prodgate(["qa", "bad", "r2"], "quinn").status).toBe(0);
    pushKilled("qa/ok/r2", r2, "quinn");

    expect(sync()).not.toContain("not applied");
    expect(sb.tip("production-stable")).toBe(r2);
    const rows = log().filter((e) => e.ref === "refs/tags/qa/ok/r2" && e.decision === "verdict");
    expect(rows.map((e) => e.code)).toEqual(["ok"]);
  });

  it("stands only for the tickets no newer verdict came through", () => {
    const r1 = sb.tip("production-stable");
    const r2 = work.commit("r2: two fixes [bug=7] [bug=8]");
    work.land();
    pushKilled("qa/ok/r2", r2, "quinn");
    expect(sb.prodgate(["qa", "bad", "--ticket", "7"], "quinn").status).toBe(0);

    expect(sync()).toContain("not applied");
    // Ticket 7's bad came after the tag: it stands; the tag's ok stands for ticket 8.
    const p = undeployed().find((x) => x.sha === r2)!;
    expect(p.verdict).toBe("bad");
    expect(p.byTicket).toEqual(
      expect.arrayContaining([
        { ticket: "7", verdict: "bad" },
        { ticket: "8", verdict: "ok" },
      ]),
    );
    expect(sb.tip("production-stable")).toBe(r1);
    const trace = log().filter((e) => e.ref === "refs/tags/qa/ok/r2" && e.code === "superseded");
    expect(trace).toHaveLength(1);
    expect(trace[0]!.reason).toContain("applied through ticket(s) 8 only");

    // QA clears ticket 7: both tickets ok, r2 goes out.
    expect(sb.prodgate(["qa", "ok", "--ticket", "7"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r2);
  });
});

describe("several tags recorded late", () => {
  it("take effect in the order they were accepted, whichever verdict they carry", () => {
    const r1 = sb.tip("production-stable");
    const r2 = work.commit("r2: found bad on a second look");
    work.land();
    pushKilled("qa/ok/first-look", r2, "quinn");
    pushKilled("qa/bad/second-look", r2, "quinn");
    expect(sync()).not.toContain("not applied");
    expect(undeployed().find((p) => p.sha === r2)?.verdict).toBe("bad");
    expect(sb.tip("production-stable")).toBe(r1);

    const r3 = work.commit("r3: found ok on a second look");
    work.land();
    pushKilled("qa/bad/r3-first", r3, "quinn");
    pushKilled("qa/ok/r3-second", r3, "quinn");
    expect(sb.prodgate(["qa", "ok", "r2"], "quinn").status).toBe(0);
    expect(sync()).not.toContain("not applied");
    expect(sb.tip("production-stable")).toBe(r3);
  });
});

describe("a ticket verdict tag recorded late", () => {
  it("does not override a verdict given through the ticket after the tag was accepted", () => {
    const r1 = sb.tip("production-stable");
    const r2 = work.commit("r2: [bug=7] first try");
    work.land();
    pushKilled("qa/ok/ticket-7", r2, "quinn");
    expect(sb.prodgate(["qa", "bad", "--ticket", "7"], "quinn").status).toBe(0);

    expect(sync()).toContain("not applied");
    expect(sb.tip("production-stable")).toBe(r1);
    expect(undeployed().find((p) => p.sha === r2)?.verdict).toBe("bad");
    const trace = log().filter((e) => e.ref === "refs/tags/qa/ok/ticket-7" && e.decision === "verdict");
    expect(trace.map((e) => e.code)).toEqual(["superseded"]);
    expect(trace[0]!.reason).toMatch(/^ok for r2 [0-9a-f]{7} \(ticket 7\) not applied: .* bad by quinn/);
    expect(sync()).not.toContain("not applied");
  });

  it("does not override a verdict given to the revision itself after the tag was accepted", () => {
    const r1 = sb.tip("production-stable");
    const r2 = work.commit("r2: [bug=7] first try");
    work.land();
    pushKilled("qa/ok/ticket-7", r2, "quinn");
    expect(sb.prodgate(["qa", "bad", "r2"], "quinn").status).toBe(0);
    sync();
    expect(sb.tip("production-stable")).toBe(r1);
    expect(undeployed().find((p) => p.sha === r2)?.verdict).toBe("bad");
  });

  it("overrides a verdict through the ticket given before the tag was accepted", () => {
    const r2 = work.commit("r2: [bug=7] fixed");
    work.land();
    expect(sb.prodgate(["qa", "bad", "--ticket", "7"], "quinn").status).toBe(0);
    pushKilled("qa/ok/ticket-7", r2, "quinn");
    expect(sync()).not.toContain("not applied");
    expect(sb.tip("production-stable")).toBe(r2);
  });
});

describe("a CI tag recorded late", () => {
  /** A security fix on production-devel, ready to promote but for its CI result. */
  function securityFix(): string {
    work.git(["checkout", "--quiet", "-b", "pdev", "origin/production-stable"]);
    const fix = work.commit("security: fix", { "fix.txt": "fixed\n" });
    expect(work.push(["origin", "pdev:production-devel"], "sam").status).toBe(0);
    return fix;
  }

  it("does not override a CI result recorded after the tag was accepted", () => {
    work.git(["fetch", "--quiet", "origin"]);
    const fix = securityFix();
    pushKilled("ci/pass/run-1", fix, "cid", "before-ci-recorded");
    expect(sb.prodgate(["ci", "fail", fix], "cid").status).toBe(0);
    expect(sync()).toContain("not applied");

    const promote = work.push(["origin", "pdev:production-stable"], "sam");
    expect(promote.status).not.toBe(0);
    expect(promote.output).toContain("[no-ci-pass]");
    const trace = log().filter((e) => e.ref === "refs/tags/ci/pass/run-1");
    expect(trace.map((e) => [e.decision, e.code])).toEqual([
      ["ci", "superseded"],
      ["accepted", "ci-result"],
    ]);
    expect(trace[0]!.reason).toMatch(/^CI pass for [0-9a-f]{7} not applied: .* the newer result stands: fail by cid/);
  });

  it("overrides a CI result recorded before the tag was accepted", () => {
    work.git(["fetch", "--quiet", "origin"]);
    const fix = securityFix();
    expect(sb.prodgate(["ci", "fail", fix], "cid").status).toBe(0);
    pushKilled("ci/pass/run-2", fix, "cid", "before-ci-recorded");
    expect(sync()).not.toContain("not applied");
    const promote = work.push(["origin", "pdev:production-stable"], "sam");
    expect(promote.status, promote.output).toBe(0);
  });
});

describe("a ticket tag and a revision tag both recorded late", () => {
  it("take effect in the order they were accepted across channels: a stale ok never wins over a later bad", () => {
    const r1 = sb.tip("production-stable");
    const r2 = work.commit("r2: [bug=7] first try");
    work.land();
    pushKilled("qa/ok/r2", r2, "quinn");
    pushKilled("qa/bad/ticket-7", r2, "quinn");
    sync();
    expect(undeployed().find((p) => p.sha === r2)?.verdict).toBe("bad");
    expect(sb.tip("production-stable")).toBe(r1);

    const r3 = work.commit("r3: [bug=8] second try");
    work.land();
    expect(sb.prodgate(["qa", "ok", "r2"], "quinn").status).toBe(0);
    pushKilled("qa/ok/ticket-8", r3, "quinn");
    pushKilled("qa/bad/r3", r3, "quinn");
    sync();
    expect(undeployed().find((p) => p.sha === r3)?.verdict).toBe("bad");
    expect(sb.tip("production-stable")).toBe(r2);
  });

  it("a ticket tag moved for the next round and recorded late records only up to its new revision", () => {
    const r2 = work.commit("r2: [bug=7] first part");
    work.land();
    work.git(["tag", "qa/ok/ticket-7", r2]);
    expect(work.push(["origin", "refs/tags/qa/ok/ticket-7"], "quinn").status).toBe(0);
    const r2out = sb.tip("production-stable");
    expect(r2out).toBe(r2);
    const r3 = work.commit("r3: [bug=7] second part");
    work.land();
    const r4 = work.commit("r4: [bug=7] a developer's unrelated change, claiming the ticket");
    work.land();
    work.git(["tag", "-f", "qa/ok/ticket-7", r3]);
    const move = work.push(["--force", "origin", "refs/tags/qa/ok/ticket-7"], "quinn", { PRODGATE_FAULT: "before-verdict-recorded" });
    expect(move.status, move.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(r2);
    expect(sync()).not.toContain("not applied");
    expect(sb.tip("production-stable")).toBe(r3);
    expect(undeployed().find((p) => p.sha === r4)?.verdict).toBe("needstesting");
    // Recorded once: a second sync finds nothing left.
    expect(sync()).not.toContain("recorded");
  });
});

describe("a tag recorded after a later-accepted tag was accepted", () => {
  /**
   * Two QA people judge r2 at once: qa/ok/first is accepted first, but its post-receive waits (in the
   * post-receive prodgate's shim runs first, an earlier hook kept by install, on a FIFO) until
   * qa/bad/second was accepted and, unless `killSecond`, recorded. Production is frozen meanwhile:
   * what stands decides once it thaws.
   */
  async function judgedAtOnce(killSecond: boolean, second = "qa/bad/second"): Promise<string> {
    const r2 = work.commit("r2: [bug=7] judged by two QA people at once");
    work.land();
    expect(sb.prodgate(["freeze", "--reason", "release checks"], "ada").status).toBe(0);
    const hold = join(sb.root, "hold");
    mkdirSync(hold);
    const fifo = join(hold, "go");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const chained = join(sb.bare, "hooks", "post-receive.prodgate-chained");
    writeFileSync(
      chained,
      `#!/bin/sh
case "$(cat)" in *" refs/tags/qa/ok/first"*) : >"${hold}/held"; read go <"${fifo}" ;; esac
exit 0
`,
    );
    chmodSync(chained, 0o755);
    work.git(["tag", "qa/ok/first", r2]);
    const first = run("git", ["push", "origin", "refs/tags/qa/ok/first"], work.dir, sb.env({ GL_USER: "quinn" }));
    await until(() => existsSync(join(hold, "held")), "the first push's post-receive to wait");
    if (killSecond) pushKilled(second, r2, "quinn");
    else {
      work.git(["tag", second, r2]);
      const pushed = work.push(["origin", `refs/tags/${second}`], "quinn");
      expect(pushed.status, pushed.output).toBe(0);
    }
    writeFileSync(fifo, "go\n");
    const done = await first;
    expect(done.status, done.output).toBe(0);
    return r2;
  }

  it("never overtakes the later-accepted tag recorded late", async () => {
    const r1 = sb.tip("production-stable");
    const r2 = await judgedAtOnce(true);
    sync();
    // The bad was accepted last: it stands, and r2 never goes out.
    expect(undeployed().find((p) => p.sha === r2)?.verdict).toBe("bad");
    expect(log().filter((e) => e.code === "superseded")).toEqual([]);
    expect(sb.prodgate(["thaw"], "ada").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r1);
  });

  it("never overtakes the later-accepted tag recorded before it; the log says it was superseded", async () => {
    const r1 = sb.tip("production-stable");
    const r2 = await judgedAtOnce(false);
    expect(undeployed().find((p) => p.sha === r2)?.verdict).toBe("bad");
    const trace = log().filter((e) => e.code === "superseded");
    expect(trace.map((e) => e.ref)).toEqual(["refs/tags/qa/ok/first"]);
    expect(sb.prodgate(["thaw"], "ada").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r1);
    // Recorded once: sync finds nothing left to record.
    expect(sync()).not.toContain("recorded");
  });

  it("the same when the later-accepted one is a ticket tag", async () => {
    const r1 = sb.tip("production-stable");
    const r2 = await judgedAtOnce(false, "qa/bad/ticket-7");
    expect(undeployed().find((p) => p.sha === r2)?.verdict).toBe("bad");
    expect(
      log()
        .filter((e) => e.code === "superseded")
        .map((e) => e.ref),
    ).toEqual(["refs/tags/qa/ok/first"]);
    expect(sb.prodgate(["thaw"], "ada").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r1);
  });
});
