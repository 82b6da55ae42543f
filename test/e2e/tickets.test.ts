// QA by ticket: verdicts through the tickets commit messages reference, [incr],
// ticket tags, and where a ticket's revisions have reached. Real pushes.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

interface Pending {
  sha: string;
  revno: number;
  subject: string;
  verdict: string;
  source: string;
  tickets: string[];
  qaWith: number[] | null;
  incrIgnored: boolean;
  byTicket?: { ticket: string; verdict: string }[];
}
interface Status {
  deployable: { sha: string; revno: number } | null;
  pending: Pending[];
  undeployed: Pending[];
}

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
});
afterEach(() => sb.cleanup());

const verdictRows = () => sb.json<{ decision: string; reason: string }[]>(["log"]).filter((e) => e.decision === "verdict");

describe("verdicts by ticket", () => {
  it("a ticket spanning three revisions is approved in one command, listing them; a later landing is not", () => {
    const r2 = work.commit("[r=ada][bug=100] Fix the frobnicator, part one.");
    work.commit("[r=ada][bug=200] Something else");
    work.commit("Tidy the frobnicator\n\nLP: #100");
    const r5 = work.commit("Last piece of the frobnicator\n\nFixes #100");
    work.land();

    const r = sb.prodgate(["qa", "ok", "--ticket", "100"], "quinn");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("ticket 100: ok recorded on 3 revision(s)");
    for (const n of [2, 4, 5]) expect(r.stdout).toMatch(new RegExp(`ok: r${n} `));
    expect(r.stdout).not.toMatch(/ok: r3 /);
    // r3 (ticket 200) still blocks: production-stable stops at r2.
    expect(sb.tip("production-stable")).toBe(r2);
    expect(verdictRows().filter((e) => e.reason.includes("(ticket 100)"))).toHaveLength(3);

    // A revision that lands afterwards with the same ticket was never seen by that verdict.
    const r6 = work.commit("[bug=100] A follow-up nobody tried");
    work.land();
    expect(sb.prodgate(["qa", "ok", "--ticket", "200"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r5);
    const st = sb.json<Status>(["status"]);
    expect(st.pending.map((p) => [p.revno, p.sha, p.tickets])).toEqual([[6, r6, ["100"]]]);

    const json = sb.json<{ recorded: { revno: number; ticket: string }[] }>(["qa", "ok", "--ticket", "100"], "quinn");
    expect(json.recorded).toEqual([{ sha: r6, revno: 6, verdict: "ok", ticket: "100", otherTickets: [] }]);
    expect(sb.tip("production-stable")).toBe(r6);
  });

  it("named with the revision QA tried, it takes nothing that landed after it", () => {
    const r2 = work.commit("[bug=9] Fix the widget");
    work.land();
    // Lands while QA is trying r2 on staging.
    const r3 = work.commit("[bug=9] More widget, untried");
    work.land();
    expect(sb.prodgate(["qa", "ok", "--ticket", "9", "r2", "r3"], "quinn").status).toBe(2);
    const r = sb.prodgate(["qa", "ok", "--ticket", "9", "r2"], "quinn");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("ticket 9: ok recorded on 1 revision(s)");
    expect(sb.tip("production-stable")).toBe(r2);
    expect(sb.json<Status>(["status"]).pending.map((p) => p.sha)).toEqual([r3]);
    // Nothing left up to r2: exit 1, nothing recorded.
    const none = sb.prodgate(["qa", "ok", "--ticket", "9", "r2"], "quinn");
    expect(none.status).toBe(1);
    expect(none.stderr).toContain("up to r2");
  });

  it("a revision with two tickets is ok only when both are; bad on one makes it bad", () => {
    const r2 = work.commit("[r=ada][bug=1,2] Fix both");
    work.land();
    const first = sb.prodgate(["qa", "ok", "--ticket", "1"], "quinn");
    expect(first.status).toBe(0);
    expect(first.stdout).toContain("it also references ticket 2 (needstesting)");
    let st = sb.json<Status>(["status"]);
    expect(st.pending[0]).toMatchObject({ revno: 2, verdict: "needstesting", tickets: ["1", "2"] });
    expect(st.pending[0]!.byTicket).toEqual([
      { ticket: "1", verdict: "ok" },
      { ticket: "2", verdict: "needstesting" },
    ]);
    expect(sb.tip("production-stable")).not.toBe(r2);

    expect(sb.prodgate(["qa", "bad", "--ticket", "2", "--note", "still broken"], "quinn").status).toBe(0);
    st = sb.json<Status>(["status"]);
    expect(st.undeployed[0]).toMatchObject({ revno: 2, verdict: "bad" });
    const ex = sb.prodgate(["explain", "r2"], "dev");
    expect(ex.stdout).toContain("tickets: 1, 2");
    expect(ex.stdout).toMatch(/verdict: bad by QA \(quinn\) — by ticket: 1 ok, 2 bad/);
    expect(work.push(["origin", "HEAD:production-stable"], "dev").output).toContain("[unapproved]");

    expect(sb.prodgate(["qa", "ok", "--ticket", "2"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r2);
  });

  it("a ticket no pending revision references: exit 1 naming it, nothing recorded", () => {
    work.commit("[bug=5] something");
    work.land();
    const before = verdictRows().length;
    const r = sb.prodgate(["qa", "ok", "--ticket", "999"], "quinn");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("ticket 999");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(verdictRows()).toHaveLength(before);
    // Already in production: no longer pending.
    expect(sb.prodgate(["qa", "ok", "--ticket", "5"], "quinn").status).toBe(0);
    expect(sb.prodgate(["qa", "bad", "--ticket", "5"], "quinn").status).toBe(1);
    // Not the QA role, and not a ticket id.
    expect(sb.prodgate(["qa", "ok", "--ticket", "5"], "dev").stderr).toContain("qa");
    expect(sb.prodgate(["qa", "ok", "--ticket", "../x"], "quinn").status).toBe(2);
  });

  it("qa pending --by-ticket groups what awaits QA, with links", () => {
    sb.git(["config", "prodgate.tickets.url", "https://bugs.example.org/{id}"], { cwd: sb.bare });
    work.commit("[bug=10] a");
    work.commit("no ticket here");
    work.commit("[bug=10,11] b");
    work.land();
    const groups = sb.json<{ ticket: string | null; url: string | null; revisions: { revno: number }[] }[]>([
      "qa",
      "pending",
      "--by-ticket",
    ]);
    expect(groups.map((g) => [g.ticket, g.url, g.revisions.map((r) => r.revno)])).toEqual([
      ["10", "https://bugs.example.org/10", [2, 4]],
      ["11", "https://bugs.example.org/11", [4]],
      [null, null, [3]],
    ]);
    const text = sb.prodgate(["qa", "pending", "--by-ticket"]).stdout;
    expect(text).toContain("ticket 10  https://bugs.example.org/10:");
    expect(text).toContain("no ticket:");
  });
});

describe("[incr]", () => {
  it("before its final landing it waits; with it, it is QA'd with that landing", () => {
    const part1 = work.commit("[incr] [bug=5] part 1");
    work.land("cid");
    let st = sb.json<Status>(["status"]);
    expect(st.pending[0]).toMatchObject({ sha: part1, qaWith: [], tickets: ["5"] });
    expect(sb.prodgate(["explain", "r2"], "dev").stdout).toContain(
      "no later revision of ticket 5 is on stable yet: it waits like any other",
    );

    const part2 = work.commit("[bug=5] part 2");
    work.land("cid");
    st = sb.json<Status>(["status"]);
    expect(st.pending.map((p) => p.revno)).toEqual([2, 3]);
    expect(st.pending[0]!.qaWith).toEqual([3]);
    expect(sb.prodgate(["explain", "r2"], "dev").stdout).toContain("[incr], QA'd with r3, which has no ok yet");

    sb.prodgate(["freeze", "--reason", "look first"], "ada");
    expect(sb.prodgate(["qa", "ok", "r3"], "quinn").status).toBe(0);
    const ex = sb.prodgate(["explain", "r2"], "dev").stdout;
    // Never on its own: production-stable takes it only together with r3.
    expect(ex).toContain("deployable: no — [incr]: it only goes out together with r3, the landing it is QA'd with");
    expect(ex).toContain("verdict: ok as [incr]: QA'd with r3");
    expect(sb.prodgate(["explain", "r3"], "dev").stdout).toContain("deployable: yes");
    sb.prodgate(["thaw"], "ada");
    expect(sb.tip("production-stable")).toBe(part2);
  });

  it("overrides and deploy status judge an [incr] revision by its ticket's later landing, as the walk does", () => {
    sb.grant("ops", "otto");
    expect(sb.prodgate(["deploy", "record", "app3.prod", "production-stable"], "otto").status).toBe(0);
    const part1 = work.commit("[incr] [bug=5] part 1");
    work.land("cid");
    const part2 = work.commit("[bug=5] part 2");
    work.land("cid");
    const o = work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override=incident 7"], "ada");
    expect(o.status, o.output).toBe(0);
    expect(sb.prodgate(["qa", "ok", "r3"], "quinn").status).toBe(0);
    const overrides = sb.json<{ state: string; commits: { sha: string; verdict: string }[] }[]>(["overrides"]);
    expect(overrides[0]!.commits.map((c) => [c.sha, c.verdict])).toEqual([
      [part1, "ok"],
      [part2, "ok"],
    ]);
    expect(overrides[0]!.state).toBe("judged");
    expect(sb.json<unknown[]>(["overrides", "--pending"])).toEqual([]);
    const deploy = sb.json<{ behind: { revisions: { sha: string; verdict: string }[] } }[]>(["deploy", "status", "app3.prod"]);
    expect(deploy[0]!.behind.revisions.map((r) => [r.sha, r.verdict])).toEqual([
      [part1, "ok"],
      [part2, "ok"],
    ]);
  });

  it("a merge's [incr] never counts, even when everyone's markers do", () => {
    sb.git(["config", "prodgate.markers.trust", "anyone"], { cwd: sb.bare });
    const r1 = sb.tip("production-stable");
    work.git(["checkout", "--quiet", "-b", "feature"]);
    work.commit("Part one of the frobnicator", { "frob.c": "one\n" });
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["merge", "--quiet", "--no-ff", "-m", "Land part one [incr] [bug=5]", "feature"]);
    work.land("dev");
    work.commit("[bug=5] part 2");
    work.land("dev");
    expect(sb.prodgate(["qa", "ok", "r3"], "quinn").status).toBe(0);
    const st = sb.json<Status>(["status"]);
    expect(st.pending.map((p) => p.revno)).toEqual([2]);
    expect(st.pending[0]).toMatchObject({ incrIgnored: true });
    expect(sb.tip("production-stable")).toBe(r1);
  });

  it("without its final landing, a verdict on another ticket's revision does not carry it", () => {
    work.commit("[incr] [bug=5] part 1");
    work.commit("[bug=6] unrelated");
    work.land("cid");
    expect(sb.prodgate(["qa", "ok", "r3"], "quinn").status).toBe(0);
    expect(sb.json<Status>(["status"]).pending.map((p) => p.revno)).toEqual([2]);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD~2"));
  });

  it("a developer's own [incr] [bug=N] does not ride on QA's approval of someone else's landing", () => {
    const r1 = work.sha("HEAD");
    work.commit("[incr] [bug=5] harmless, honest", { "backdoor.sh": "evil\n" });
    work.land("dev");
    work.commit("[bug=5] the real fix");
    work.land("cid");
    expect(sb.prodgate(["qa", "ok", "r3"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r1);
    const st = sb.json<Status>(["status"]);
    expect(st.pending[0]).toMatchObject({ revno: 2, incrIgnored: true, qaWith: null });
    expect(sb.prodgate(["status"]).stdout).toContain("[incr] marker does not count");
  });
});

describe("ticket verdict tags", () => {
  it("qa/ok/ticket-N records on the revisions up to the tagged one that reference N", () => {
    const r2 = work.commit("[bug=7] first");
    const r3 = work.commit("[bug=7] second");
    work.land();
    const r4 = work.commit("[bug=7] third, after QA tested");
    work.land();
    work.git(["tag", "qa/ok/ticket-7", r3]);
    const p = work.push(["origin", "qa/ok/ticket-7"], "quinn");
    expect(p.status, p.output).toBe(0);
    expect(p.output).toContain("ok for ticket 7 recorded on r2, r3");
    expect(sb.tip("production-stable")).toBe(r3);
    const st = sb.json<Status>(["status"]);
    expect(st.pending.map((x) => x.sha)).toEqual([r4]);
    expect(r2).not.toBe(r3);
  });

  it("from someone without the qa role it is refused, costs nothing, and records nothing", () => {
    work.commit("[bug=7] first");
    work.land();
    // Without the shim's answers the engine would have to ask git itself.
    rmSync(join(sb.bare, "prodgate", "prefetch"), { recursive: true, force: true });
    const trace = join(sb.root, "trace.txt");
    work.git(["tag", "qa/ok/ticket-7", "HEAD"]);
    const p = work.push(["origin", "qa/ok/ticket-7"], "dev", { PRODGATE_TRACE: trace });
    expect(p.status).not.toBe(0);
    expect(p.output).toContain("[role-required]");
    expect(readFileSync(trace, "utf8").trim().split("\n")[0]).toMatch(/^pre-receive .* git=0$/);
    expect(sb.tip("refs/tags/qa/ok/ticket-7")).toBeNull();
    expect(sb.json<Status>(["status"]).pending).toHaveLength(1);
  });

  it("a ticket no pending revision up to the tag references is refused", () => {
    work.commit("[bug=7] first");
    work.land();
    work.git(["tag", "qa/ok/ticket-8", "HEAD"]);
    const p = work.push(["origin", "qa/ok/ticket-8"], "quinn");
    expect(p.status).not.toBe(0);
    expect(p.output).toContain("[ticket-unreferenced]");
    expect(p.output).toContain("ticket 8");
    work.git(["tag", "qa/ok/ticket-_x", "HEAD"]);
    expect(work.push(["origin", "qa/ok/ticket-_x"], "quinn").output).toContain("[bad-tag-name]");
  });
});

describe("a ticket's next round by tag", () => {
  it("QA moves qa/<verdict>/ticket-N to the revision it tried next; it records again, bounded by it", () => {
    const r2 = work.commit("[bug=7] first try");
    work.land();
    work.git(["tag", "qa/bad/ticket-7", r2]);
    expect(work.push(["origin", "qa/bad/ticket-7"], "quinn").status).toBe(0);
    const r3 = work.commit(`[bug=7] [rollback=2] fix`);
    work.land();
    work.commit("[bug=7] landed while QA tested");
    work.land();

    // git itself refuses to replace a tag without --force, before any hook runs.
    work.git(["tag", "-f", "qa/ok/ticket-7", r3]);
    expect(work.push(["origin", "qa/ok/ticket-7"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r3);
    const r5 = work.commit("[bug=7] the last piece");
    work.land();
    work.git(["tag", "-f", "qa/ok/ticket-7", r5]);
    expect(work.push(["origin", "qa/ok/ticket-7"], "quinn").output).toContain("already exists");
    // Someone without the qa role may not move it.
    const dev = work.push(["--force", "origin", "qa/ok/ticket-7"], "dev");
    expect(dev.status).not.toBe(0);
    expect(dev.output).toContain("[role-required]");
    expect(sb.tip("refs/tags/qa/ok/ticket-7")).toBe(r3);

    const p = work.push(["--force", "origin", "qa/ok/ticket-7"], "quinn");
    expect(p.status, p.output).toBe(0);
    expect(p.output).toContain("ok for ticket 7 recorded on r4, r5");
    expect(sb.tip("refs/tags/qa/ok/ticket-7")).toBe(r5);
    expect(sb.tip("production-stable")).toBe(r5);
    const rows = sb.json<{ decision: string; ref: string | null; reason: string; detail: string }[]>(["log"]);
    const verdicts = rows.filter((e) => e.decision === "verdict" && e.ref === "refs/tags/qa/ok/ticket-7").reverse();
    expect(verdicts.map((e) => e.reason.replace(/ [0-9a-f]{7} /, " "))).toEqual([
      "ok for r3 (ticket 7)",
      "ok for r4 (ticket 7)",
      "ok for r5 (ticket 7)",
    ]);
    expect(verdicts[2]!.detail).toMatch(/^tag refs\/tags\/qa\/ok\/ticket-7 \(moved by push .+\)$/);
  });

  it("a moved ticket tag whose post-receive died is recorded by sync", () => {
    const r2 = work.commit("[bug=7] first");
    work.land();
    work.git(["tag", "qa/ok/ticket-7", r2]);
    expect(work.push(["origin", "qa/ok/ticket-7"], "quinn").status).toBe(0);
    const r3 = work.commit("[bug=7] second");
    work.land();
    work.git(["tag", "-f", "qa/ok/ticket-7", r3]);
    const p = work.push(["--force", "origin", "qa/ok/ticket-7"], "quinn", { PRODGATE_FAULT: "before-verdict-recorded" });
    expect(p.status, p.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(r2);
    expect(sb.prodgate(["sync"]).status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r3);
    expect(sb.prodgate(["sync"]).stdout).not.toContain("recorded");
  });

  it("verdict tags are never deleted, and a revision's tag never moves; each refusal says what to do instead", () => {
    const r2 = work.commit("[bug=7] first");
    work.land();
    for (const tag of ["qa/ok/ticket-7", "qa/ok/tried"]) {
      work.git(["tag", tag, r2]);
      expect(work.push(["origin", tag], "quinn").status).toBe(0);
    }
    const del = work.push(["origin", ":refs/tags/qa/ok/ticket-7"], "quinn");
    expect(del.output).toContain("[tag-immutable]");
    expect(del.output).toContain(
      "it is never deleted; for the ticket's next round, move it: git tag -f qa/ok/ticket-7 <rev> && git push --force origin refs/tags/qa/ok/ticket-7",
    );
    expect(work.push(["origin", ":refs/tags/qa/ok/ticket-7"], "ada").output).toContain("[tag-immutable]");
    expect(sb.tip("refs/tags/qa/ok/ticket-7")).toBe(r2);
    work.commit("[bug=7] second");
    work.land();
    work.git(["tag", "-f", "qa/ok/tried", "HEAD"]);
    const moved = work.push(["--force", "origin", "qa/ok/tried"], "quinn");
    expect(moved.output).toContain("[tag-immutable]");
    expect(moved.output).toContain("give the new verdict a tag of its own (qa/ok/<another label>) or run prodgate qa ok <rev>");
    expect(sb.tip("refs/tags/qa/ok/tried")).toBe(r2);
  });
});

describe("prodgate tickets", () => {
  it("shows every revision of a ticket, its verdict, and where it reached", () => {
    sb.grant("ops", "olga");
    const r2 = work.commit("[bug=42] first");
    work.land();
    expect(sb.prodgate(["qa", "ok", "--ticket", "42"], "quinn").status).toBe(0);
    expect(sb.prodgate(["deploy", "record", "app1", "production-stable"], "olga").status).toBe(0);
    work.commit("[bug=42] second");
    work.land();
    expect(sb.prodgate(["qa", "bad", "--ticket", "42"], "quinn").status).toBe(0);
    work.commit("[bug=42] third, on devel only");
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);

    const t = sb.json<{
      revisions: {
        sha: string;
        revno: number | null;
        verdict: string;
        reached: { stable: boolean; productionStable: boolean; deployed: { target: string }[] };
      }[];
      verdicts: { verdict: string }[];
    }>(["tickets", "42"]);
    expect(
      t.revisions.map((r) => [r.revno, r.verdict, r.reached.stable, r.reached.productionStable, r.reached.deployed.map((d) => d.target)]),
    ).toEqual([
      [2, "ok", true, true, ["app1"]],
      [3, "bad", true, false, []],
      [null, "not on stable", false, false, []],
    ]);
    expect(t.revisions[0]!.sha).toBe(r2);
    expect(t.verdicts.map((v) => v.verdict)).toEqual(["ok", "bad"]);
    const text = sb.prodgate(["tickets", "42"]).stdout;
    expect(text).toContain("reached: stable, production-stable, deployed on app1");
    expect(sb.prodgate(["tickets", "4242"]).status).toBe(1);
  });
});

describe("ticket configuration", () => {
  it("a bad pattern fails doctor naming the key, and pushes go on", () => {
    sb.git(["config", "--add", "prodgate.tickets.pattern", "[bug=("], { cwd: sb.bare });
    sb.git(["config", "--add", "prodgate.tickets.pattern", "\\b([A-Z]+-[0-9]+)\\b"], { cwd: sb.bare });
    const doctor = sb.prodgate(["doctor"]);
    expect(doctor.status).toBe(1);
    expect(doctor.stdout + doctor.stderr).toContain("prodgate.tickets.pattern");
    work.commit("APP-12 fix the login [bug=3]");
    work.land();
    const st = sb.json<Status>(["status"]);
    expect(st.pending[0]!.tickets).toEqual(["APP-12"]);
    expect(sb.prodgate(["qa", "ok", "--ticket", "APP-12"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
  });
});
