// Ticket references, verdicts by ticket and [incr]: the pure core, table-driven.
import { describe, expect, it } from "vitest";
import { configFromValues } from "../../src/config";
import { deployableRevision, type MarkerTrust } from "../../src/policy/deployable";
import { decide, decideWithoutFacts, type PushContext, type UpdateFacts } from "../../src/policy/decide";
import { classifyRef, parseTagRef } from "../../src/policy/refs";
import {
  type ChannelRecord,
  combineVerdicts,
  compileTicketPattern,
  DEFAULT_TICKET_PATTERNS,
  type LateStanding,
  lateVerdictStanding,
  MAX_TICKETS_PER_COMMIT,
  standsBadFor,
  ticketRefs,
  ticketVerdictTargets,
} from "../../src/policy/tickets";
import type { MainlineCommit, Role, Verdict, VerdictRecord } from "../../src/policy/types";

const defaults = DEFAULT_TICKET_PATTERNS.map((p) => new RegExp(p, "g"));

describe("ticketRefs with the default patterns", () => {
  // Shapes as they occur in the process's history (Launchpad's mainline), and the other defaults.
  const cases: [string, string[]][] = [
    ["[r=foo][bug=123456,654321] Fix the frobnicator.", ["123456", "654321"]],
    ["[r=sinzui][ui=none][bug=598464] Add a missing import.", ["598464"]],
    ["[r=abentley][bug=601076, 601087] Show the queue correctly", ["601076", "601087"]],
    ["[r=zkrynicki][bug=1093718][author=brendan-donegan] automatic merge by tarmac", ["1093718"]],
    ["[Bug=6503, 6525] SetGeoRef now also sets the size", ["6503", "6525"]],
    ["[incr] [bug=1] part 1", ["1"]],
    ["[no-qa][incr] [bug=707741] scaffolding for the new API", ["707741"]],
    ["[r=gmb][bug=  12 ]  blanks inside the brackets count", ["12"]],
    ["[r=lifeless][bugs=673530,673560] two bugs, plural key", ["673530", "673560"]],
    ["[rollback=12790] [bug=699851] revert the broken migration", ["699851"]],
    ["[testfix][r=jml] Fix test_sendbranchmail (no bug)", []],
    ["[r=bac][bug=] empty list", []],
    ["[bug=abc] not a number", []],
    ["LP: #12345", ["12345"]],
    ["Close the race in the archive publisher.\n\nLP: #1, #22", ["1", "22"]],
    ["Fixes #9", ["9"]],
    ["fixes #9 and Closes #10", ["9", "10"]],
    ["Fixesa #9 is not a keyword; prefixes #3 neither", []],
    ["[bug=7] and LP: #7 and Fixes #7: one ticket", ["7"]],
    ["merge devel", []],
    // A number that runs on into a word is no reference to its digits.
    ["LP: #7x, Fixes #8_1, Closes #9abc", []],
    ["LP: #1, #2x", ["1"]],
  ];
  it.each(cases)("%j → %j", (message, expected) => {
    expect(ticketRefs(message, defaults)).toEqual(expected);
  });

  it("counts at most MAX_TICKETS_PER_COMMIT tickets of one commit", () => {
    const refs = ticketRefs(Array.from({ length: 5000 }, (_, i) => `[bug=${i + 1},${i + 10_000}]`).join(" "), defaults);
    expect(refs).toHaveLength(MAX_TICKETS_PER_COMMIT);
    expect(refs[0]).toBe("1");
  });

  it("stays fast on hostile text: long runs that almost match", () => {
    const hostile = [
      "[bug=" + "1,".repeat(200_000),
      "[bug=" + " ".repeat(200_000),
      "LP: #1" + ",#1".repeat(100_000) + ",",
      "LP: #1" + ",#1".repeat(100_000) + "x",
      "LP: #" + "1".repeat(16_000) + "x",
      "Fixes" + " ".repeat(200_000),
      "[bug=1".repeat(50_000),
    ];
    const start = performance.now();
    for (const text of hostile) ticketRefs(text, defaults);
    expect(performance.now() - start).toBeLessThan(500);
  });
});

describe("configured ticket patterns", () => {
  const config = (values: Record<string, string[]>) => configFromValues(new Map(Object.entries(values))).config;

  it("replace the defaults, and keys like APP-123 count", () => {
    const c = config({ "prodgate.tickets.pattern": ["\\b([A-Z]+-[0-9]+)\\b"] });
    expect(ticketRefs("APP-123: fix login [bug=5]", c.ticketPatterns)).toEqual(["APP-123"]);
    expect(c.ticketProblems).toEqual([]);
  });

  const bad: [string, RegExp][] = [
    ["[bug=(", /not a valid regular expression/],
    ["bug [0-9]+", /0 capture groups/],
    ["(a)(b)", /2 capture groups/],
  ];
  it.each(bad)("%j is refused, naming the key, and is not a push error", (source, why) => {
    const { config: c, errors } = configFromValues(new Map([["prodgate.tickets.pattern", [source, "LP: #([0-9]+)"]]]));
    expect(errors).toEqual([]);
    expect(c.ticketProblems).toHaveLength(1);
    expect(c.ticketProblems[0]!.key).toBe("prodgate.tickets.pattern");
    expect(c.ticketProblems[0]!.message).toMatch(why);
    expect(c.ticketPatterns).toHaveLength(1);
  });

  it("needs exactly one capture group", () => {
    expect("pattern" in compileTicketPattern("x(?:y)([0-9]+)")).toBe(true);
    expect("error" in compileTicketPattern("x(?<id>[0-9]+)(z)")).toBe(true);
  });

  it("the url template must be http(s) with {id}", () => {
    expect(config({ "prodgate.tickets.url": ["https://bugs.example.org/{id}"] }).ticketUrl).toBe("https://bugs.example.org/{id}");
    const c = config({ "prodgate.tickets.url": ["javascript:alert({id})"] });
    expect(c.ticketUrl).toBeNull();
    expect(c.ticketProblems[0]!.key).toBe("prodgate.tickets.url");
  });
});

describe("ticket verdict tags", () => {
  const cases: [string, { valid: boolean; ticket?: string; looksLikeTicket?: boolean }][] = [
    ["refs/tags/qa/ok/ticket-123", { valid: true, ticket: "123" }],
    ["refs/tags/qa/bad/ticket-APP-7", { valid: true, ticket: "APP-7" }],
    ["refs/tags/qa/ok/ticket-", { valid: false, ticket: "" }],
    ["refs/tags/qa/ok/ticket-a/b", { valid: false, ticket: "a/b" }],
    ["refs/tags/qa/ok/r12", { valid: true }],
    ["refs/tags/qa/ok/anything", { valid: true }],
    ["refs/tags/qa/ok/ticketing-system", { valid: true }],
    ["refs/tags/qa/ok/Ticket-7", { valid: false, looksLikeTicket: true }],
    ["refs/tags/qa/ok/TICKET-7", { valid: false, looksLikeTicket: true }],
    ["refs/tags/qa/ok/ticket7", { valid: false, looksLikeTicket: true }],
    ["refs/tags/qa/ok/ticket_7", { valid: false, looksLikeTicket: true }],
    ["refs/tags/qa/ok/tickets-7", { valid: false, looksLikeTicket: true }],
    ["refs/tags/qa/ok/ticket", { valid: false, looksLikeTicket: true }],
    ["refs/tags/qa/bad/Ticket/7", { valid: false, looksLikeTicket: true }],
    ["refs/tags/ci/pass/Ticket-7", { valid: true }],
    ["refs/tags/qa/ok/T\u0130CKET-7", { valid: false, looksLikeTicket: true }],
    ["refs/tags/qa/ok/t\u0456cket-7", { valid: false, looksLikeTicket: true }],
    ["refs/tags/qa/ok/\u200bticket-7", { valid: false, looksLikeTicket: true }],
    ["refs/tags/qa/ok/ticket-\uff17", { valid: false, looksLikeTicket: true }],
    ["refs/tags/qa/ok/\u00fcn\u00efc\u00f8d\u00e9-\u2713", { valid: true }],
  ];
  it.each(cases)("%s", (ref, expected) => {
    const tag = parseTagRef(ref)!;
    expect(tag.valid).toBe(expected.valid);
    expect(tag.ticket).toBe(expected.ticket);
    expect(tag.looksLikeTicket).toBe(expected.looksLikeTicket);
  });
});

describe("lateVerdictStanding: a tag recorded late speaks as of its acceptance", () => {
  // later: the channels verdicts came through since the tag was accepted (null: the revision itself).
  const cases: { name: string; late: string | null; later: (string | null)[]; tickets: string[]; expected: LateStanding }[] = [
    { name: "nothing since: as given", late: null, later: [], tickets: ["7"], expected: { as: "given" } },
    { name: "a revision verdict since overtakes a revision tag", late: null, later: [null], tickets: [], expected: { as: "overtaken" } },
    {
      name: "a ticket verdict since: the revision tag stands for the other tickets",
      late: null,
      later: ["7"],
      tickets: ["7", "8", "8"],
      expected: { as: "tickets", tickets: ["8"], overtaken: ["7"] },
    },
    {
      name: "every ticket got a verdict since: overtaken",
      late: null,
      later: ["7", "8"],
      tickets: ["7", "8"],
      expected: { as: "overtaken" },
    },
    { name: "a ticket tag, nothing since", late: "7", later: [], tickets: [], expected: { as: "given" } },
    { name: "a ticket tag, the same ticket since", late: "7", later: ["7"], tickets: [], expected: { as: "overtaken" } },
    { name: "a ticket tag, the revision itself since", late: "7", later: [null], tickets: [], expected: { as: "overtaken" } },
    { name: "a ticket tag, another ticket since", late: "7", later: ["8"], tickets: [], expected: { as: "given" } },
  ];
  it.each(cases)("$name", ({ late, later, tickets, expected }) => {
    expect(
      lateVerdictStanding(
        late,
        later.map((ticket) => ({ ticket })),
        tickets,
      ),
    ).toEqual(expected);
  });
});

describe("combineVerdicts", () => {
  let id = 0;
  const r = (verdict: Verdict, ticket: string | null): ChannelRecord => ({
    id: ++id,
    sha: "a".repeat(40),
    verdict,
    user: "quinn",
    at: "2026-01-01T00:00:00Z",
    ticket,
  });
  const cases: { name: string; records: () => ChannelRecord[]; tickets: string[]; verdict: Verdict | undefined }[] = [
    { name: "nothing recorded", records: () => [], tickets: ["1"], verdict: undefined },
    { name: "a direct verdict alone", records: () => [r("ok", null)], tickets: ["1", "2"], verdict: "ok" },
    { name: "two tickets, one ok: not yet ok", records: () => [r("ok", "1")], tickets: ["1", "2"], verdict: "needstesting" },
    { name: "two tickets, both ok", records: () => [r("ok", "1"), r("ok", "2")], tickets: ["1", "2"], verdict: "ok" },
    { name: "two tickets, one bad", records: () => [r("ok", "1"), r("bad", "2")], tickets: ["1", "2"], verdict: "bad" },
    { name: "bad on one ticket, the other still untested", records: () => [r("bad", "2")], tickets: ["1", "2"], verdict: "bad" },
    { name: "ok and untestable make ok", records: () => [r("ok", "1"), r("untestable", "2")], tickets: ["1", "2"], verdict: "ok" },
    {
      name: "a newer direct verdict speaks for every ticket",
      records: () => [r("bad", "1"), r("ok", null)],
      tickets: ["1", "2"],
      verdict: "ok",
    },
    {
      name: "a direct ok, then one ticket set back to needstesting",
      records: () => [r("ok", null), r("needstesting", "1")],
      tickets: ["1", "2"],
      verdict: "needstesting",
    },
    {
      name: "a direct ok covers the ticket not judged since",
      records: () => [r("ok", null), r("ok", "1")],
      tickets: ["1", "2"],
      verdict: "ok",
    },
    { name: "the newer word on a ticket stands", records: () => [r("bad", "1"), r("ok", "1")], tickets: ["1"], verdict: "ok" },
    {
      name: "a ticket the message no longer matches still counts",
      records: () => [r("ok", "1"), r("bad", "9")],
      tickets: ["1"],
      verdict: "bad",
    },
  ];
  it.each(cases)("$name", ({ records, tickets, verdict }) => {
    expect(combineVerdicts(records(), tickets)?.verdict).toBe(verdict);
  });
});

describe("[incr] in the deployable walk", () => {
  /** Each spec: message, recorded verdict. */
  function walk(specs: [string, Verdict | null][], markers: MarkerTrust = "anyone") {
    const segment: MainlineCommit[] = specs.map(([message], i) => ({
      sha: (i + 1).toString(16).padStart(40, "0"),
      revno: i + 1,
      parents: [],
      subject: message,
      message,
    }));
    const verdicts = new Map<string, VerdictRecord>();
    specs.forEach(([, v], i) => {
      if (v) verdicts.set(segment[i]!.sha, { sha: segment[i]!.sha, verdict: v, user: "quinn", at: "t" });
    });
    const tickets = new Map(segment.map((c) => [c.sha, ticketRefs(c.message, defaults)]));
    const r = deployableRevision({ segment, base: null, verdicts, markers, tickets });
    return { d: r.deployable?.revno ?? null, entries: r.entries, segment };
  }

  const cases: { name: string; specs: [string, Verdict | null][]; d: number | null; markers?: "none" }[] = [
    { name: "alone, it waits", specs: [["[incr] [bug=1] part 1", null]], d: null },
    {
      name: "QA'd with its final landing",
      specs: [
        ["[incr] [bug=1] part 1", null],
        ["[bug=1] part 2", "ok"],
      ],
      d: 2,
    },
    {
      name: "through two incremental landings to the final one",
      specs: [
        ["[incr] [bug=1] part 1", null],
        ["[incr] [bug=1] part 2", null],
        ["[bug=1] part 3", "ok"],
      ],
      d: 3,
    },
    {
      name: "the final landing awaits QA: it waits too",
      specs: [
        ["[incr] [bug=1] part 1", null],
        ["[bug=1] part 2", null],
      ],
      d: null,
    },
    {
      name: "the final landing is bad: it waits",
      specs: [
        ["[incr] [bug=1] part 1", null],
        ["[bug=1] part 2", "bad"],
      ],
      d: null,
    },
    {
      name: "a later landing of another ticket does not count",
      specs: [
        ["[incr] [bug=1] part 1", null],
        ["[bug=2] other", "ok"],
      ],
      d: null,
    },
    {
      name: "an earlier landing does not count",
      specs: [
        ["[bug=1] first", "ok"],
        ["[incr] [bug=1] more", null],
      ],
      d: 1,
    },
    {
      name: "with no ticket, it waits",
      specs: [
        ["[incr] part 1", null],
        ["part 2", "ok"],
      ],
      d: null,
    },
    {
      name: "two tickets: both must land again",
      specs: [
        ["[incr] [bug=1,2] part 1", null],
        ["[bug=1] part 2", "ok"],
      ],
      d: null,
    },
    {
      name: "two tickets, both landed again and ok",
      specs: [
        ["[incr] [bug=1,2] part 1", null],
        ["[bug=1] part 2", "ok"],
        ["[bug=2] part 3", "ok"],
      ],
      d: 3,
    },
    {
      name: "its own verdict wins",
      specs: [
        ["[incr] [bug=1] part 1", "bad"],
        ["[bug=1] part 2", "ok"],
      ],
      d: null,
    },
    {
      name: "a rollback never rides on [incr]",
      specs: [
        ["[incr] [rollback=9] [bug=1]", null],
        ["[bug=1] part 2", "ok"],
      ],
      d: null,
    },
    {
      name: "it goes out only together with its final landing: not while an untested revision holds that back",
      specs: [
        ["[incr] [bug=1] part 1", null],
        ["[bug=2] other work", null],
        ["[bug=1] part 2", "ok"],
      ],
      d: null,
    },
    {
      name: "nothing between it and its final landing goes out without that landing",
      specs: [
        ["[bug=3] before", "ok"],
        ["[incr] [bug=1] part 1", null],
        ["[bug=2] other work", "ok"],
        ["[bug=1] part 2", "ok"],
        ["[bug=4] after", null],
      ],
      d: 4,
    },
    {
      name: "held until its final landing, which another untested revision blocks",
      specs: [
        ["[bug=3] before", "ok"],
        ["[incr] [bug=1] part 1", null],
        ["[bug=2] other work", "ok"],
        ["[bug=5] untested", null],
        ["[bug=1] part 2", "ok"],
      ],
      d: 1,
    },
    {
      name: "an untrusted pusher's [incr] does not count",
      specs: [
        ["[incr] [bug=1] rides on someone else's approval", null],
        ["[bug=1] the real fix", "ok"],
      ],
      d: null,
      markers: "none",
    },
  ];
  it.each(cases)("$name", ({ specs, d, markers }) => {
    expect(walk(specs, markers === "none" ? new Map() : "anyone").d).toBe(d);
  });

  it("says which landing an [incr] revision is QA'd with, and when its marker does not count", () => {
    const trusted = walk([
      ["[incr] [bug=1] part 1", null],
      ["[bug=1] part 2", "ok"],
    ]);
    expect(trusted.entries[0]!.source).toBe("incremental");
    expect(trusted.entries[0]!.qaWith?.map((c) => c.revno)).toEqual([2]);
    const alone = walk([["[incr] [bug=1] part 1", null]]);
    expect(alone.entries[0]!.qaWith).toEqual([]);
    const untrusted = walk(
      [
        ["[incr] [bug=1] part 1", null],
        ["[bug=1] part 2", "ok"],
      ],
      new Map(),
    );
    expect(untrusted.entries[0]!.incrIgnored).toBe(true);
    expect(untrusted.entries[0]!.qaWith).toBeUndefined();
  });

  it("stays linear on a long segment of one ticket", () => {
    const specs: [string, Verdict | null][] = Array.from({ length: 20_000 }, (_, i) => [`[incr] [bug=1] part ${i}`, null]);
    specs.push(["[bug=1] last", "ok"]);
    const start = performance.now();
    expect(walk(specs).d).toBe(20_001);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});

describe("deciding a ticket verdict tag", () => {
  const BRANCHES = { devel: "devel", stable: "stable", productionStable: "production-stable", productionDevel: "production-devel" };
  const target: MainlineCommit = { sha: "d".repeat(40), revno: 42, parents: [], subject: "x", message: "x" };
  const at = (revno: number): MainlineCommit => ({ ...target, sha: revno.toString(16).padStart(40, "0"), revno });
  const facts = (ref: string, over: Partial<UpdateFacts> = {}): UpdateFacts => ({
    ref,
    old: "0".repeat(40),
    new: target.sha,
    class: classifyRef(ref, BRANCHES, []),
    isCreate: true,
    isDelete: false,
    newType: "commit",
    isFastForward: true,
    keepsFirstParent: true,
    verdictTarget: target,
    ...over,
  });
  const ctx = (roles: Role[]): PushContext => ({
    user: "u",
    roles: new Set(roles),
    overrideReason: null,
    requireCi: true,
    stableWriters: "anyone",
    freeze: null,
  });
  const cases: { name: string; f: UpdateFacts; roles: Role[]; code: string; reason?: RegExp }[] = [
    {
      name: "accepted, naming the revisions",
      f: facts("refs/tags/qa/ok/ticket-7", { ticketRevisions: [at(40), at(42)] }),
      roles: ["qa"],
      code: "verdict",
      reason: /ok for ticket 7: r40, r42/,
    },
    {
      name: "accepted, naming those that stay bad",
      f: facts("refs/tags/qa/ok/ticket-7", { ticketRevisions: [at(42)], ticketKeptBad: [at(40)] }),
      roles: ["qa"],
      code: "verdict",
      reason: /ok for ticket 7: r42; r40 stay\(s\) bad/,
    },
    {
      name: "no revision references it",
      f: facts("refs/tags/qa/ok/ticket-7", { ticketRevisions: [] }),
      roles: ["qa"],
      code: "ticket-unreferenced",
    },
    {
      name: "not on stable's mainline",
      f: facts("refs/tags/qa/ok/ticket-7", { verdictTarget: null }),
      roles: ["qa"],
      code: "verdict-target",
    },
    { name: "without the qa role", f: facts("refs/tags/qa/ok/ticket-7"), roles: [], code: "role-required" },
    { name: "an id that is not one", f: facts("refs/tags/qa/ok/ticket-_7"), roles: ["qa"], code: "bad-tag-name" },
    {
      name: "moved by qa for the ticket's next round",
      f: facts("refs/tags/qa/ok/ticket-7", { old: "e".repeat(40), isCreate: false, ticketRevisions: [at(42)] }),
      roles: ["qa"],
      code: "verdict",
      reason: /ok for ticket 7: r42/,
    },
    {
      name: "moved without the qa role",
      f: facts("refs/tags/qa/ok/ticket-7", { old: "e".repeat(40), isCreate: false, ticketRevisions: [at(42)] }),
      roles: ["ci", "admin"],
      code: "role-required",
    },
    {
      name: "deleted, even by qa: it says to move it instead",
      f: facts("refs/tags/qa/ok/ticket-7", { old: "e".repeat(40), new: "0".repeat(40), isCreate: false, isDelete: true, newType: null }),
      roles: ["qa"],
      code: "tag-immutable",
      reason:
        /never deleted; for the ticket's next round, move it: git tag -f qa\/ok\/ticket-7 <rev> && git push --force origin refs\/tags\/qa\/ok\/ticket-7$/,
    },
    {
      name: "a revision verdict tag still never moves",
      f: facts("refs/tags/qa/ok/tried", { old: "e".repeat(40), isCreate: false }),
      roles: ["qa"],
      code: "tag-immutable",
      reason: /never move; give the new verdict a tag of its own \(qa\/ok\/<another label>\) or run prodgate qa ok <rev>$/,
    },
    {
      name: "a ticket tag spelt otherwise is refused, never a revision verdict",
      f: facts("refs/tags/qa/ok/Ticket-7"),
      roles: ["qa"],
      code: "bad-tag-name",
      reason:
        /looks like a ticket verdict tag but is not one: a ticket tag is qa\/<verdict>\/ticket-<id>, "ticket-" in lower case \(qa\/ok\/ticket-7\)/,
    },
  ];
  it.each(cases)("$name", ({ f, roles, code, reason }) => {
    const d = decide(f, ctx(roles));
    expect(d.code).toBe(code);
    if (reason) expect(d.reason).toMatch(reason);
  });

  it("refuses it without the qa role before any fact is gathered", () => {
    const ref = "refs/tags/qa/ok/ticket-7";
    const d = decideWithoutFacts({ ref, old: "0".repeat(40), new: target.sha, class: classifyRef(ref, BRANCHES, []) }, ctx([]));
    expect(d?.code).toBe("role-required");
  });
});

describe("ticketVerdictTargets: an ok by ticket never clears an earlier bad revision", () => {
  // Revisions oldest first, each "b" standing bad for the ticket, "-" not.
  const cases: { standing: string; verdict: Verdict; record: number[]; keptBad: number[] }[] = [
    { standing: "b-", verdict: "ok", record: [1], keptBad: [0] },
    { standing: "b-", verdict: "untestable", record: [1], keptBad: [0] },
    { standing: "b-", verdict: "bad", record: [0, 1], keptBad: [] },
    { standing: "b-", verdict: "needstesting", record: [1], keptBad: [0] },
    { standing: "b", verdict: "ok", record: [0], keptBad: [] },
    { standing: "bb", verdict: "ok", record: [1], keptBad: [0] },
    { standing: "-b-b", verdict: "ok", record: [0, 2, 3], keptBad: [1] },
    { standing: "--", verdict: "ok", record: [0, 1], keptBad: [] },
  ];
  for (const c of cases) {
    it(`${c.verdict} over ${c.standing}`, () => {
      const revisions = [...c.standing].map((_, i) => i);
      const got = ticketVerdictTargets(revisions, c.verdict, (i) => c.standing[i] === "b");
      expect(got).toEqual({ record: c.record, keptBad: c.keptBad });
    });
  }

  it("bad for the ticket: through it, or given to the revision itself", () => {
    const rec = (verdict: Verdict, byTicket?: { ticket: string; verdict: Verdict }[]) => ({
      sha: "a",
      verdict,
      user: "q",
      at: "",
      note: null,
      ...(byTicket ? { byTicket } : {}),
    });
    expect(standsBadFor(undefined, "1")).toBe(false);
    expect(standsBadFor(rec("bad"), "1")).toBe(true);
    expect(standsBadFor(rec("ok"), "1")).toBe(false);
    const mixed = [
      { ticket: "1", verdict: "ok" as Verdict },
      { ticket: "2", verdict: "bad" as Verdict },
    ];
    expect(standsBadFor(rec("bad", mixed), "1")).toBe(false);
    expect(standsBadFor(rec("bad", mixed), "2")).toBe(true);
  });
});
