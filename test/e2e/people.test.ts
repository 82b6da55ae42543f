// What people see: overrides that stay visible, production branches told by what they hold.
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, MAIN, PROJECT, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
beforeEach(() => ({ sb, work } = standardSandbox()));
afterEach(() => sb.cleanup());

interface Override {
  user: string;
  why: string;
  ref: string;
  old: string | null;
  new: string;
  state: string;
  commits: { sha: string; revno: number | null; verdict: string; via: { sha: string; revno: number } | null }[];
}

/** r2 ok and deployed; r3 needstesting put on production-stable by ada's override. */
function overrideR3(): { r3: string } {
  work.commit("r2: fine");
  work.land();
  expect(sb.prodgate(["qa", "ok", "r1", "r2"], "quinn").status).toBe(0);
  const r3 = work.commit("r3: hurried");
  work.land();
  const p = work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override=incident 7: checkout down"], "ada");
  expect(p.status, p.output).toBe(0);
  return { r3 };
}

describe("break-glass content stays visible until QA judges it", () => {
  it("prodgate overrides lists who, when, why and each commit's verdict until every one has a verdict", () => {
    const { r3 } = overrideR3();
    const all = sb.json<Override[]>(["overrides"]);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({
      user: "ada",
      why: "incident 7: checkout down",
      ref: "refs/heads/production-stable",
      new: r3,
      state: "pending",
    });
    expect(all[0]!.commits).toEqual([expect.objectContaining({ sha: r3, revno: 3, verdict: "needstesting" })]);
    expect(sb.json<Override[]>(["overrides", "--pending"])).toHaveLength(1);
    expect(sb.prodgate(["overrides", "--pending"]).stdout).toContain("AWAITS QA");

    expect(sb.prodgate(["qa", "ok", "r3"], "quinn").status).toBe(0);
    expect(sb.json<Override[]>(["overrides", "--pending"])).toHaveLength(0);
    expect(sb.json<Override[]>(["overrides"])[0]).toMatchObject({ state: "judged" });
    expect(sb.prodgate(["overrides", "--pending"]).stdout.trim()).toBe("no override awaits QA");
  });

  it("a commit merged into stable from a side branch takes the verdict of the revision that merged it", () => {
    sb.prodgate(["qa", "ok", "r1"], "quinn");
    work.git(["checkout", "--quiet", "-b", "feature"]);
    const side = work.commit("side work");
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["merge", "--quiet", "--no-ff", "-m", "r2: merge feature", "feature"]);
    const merge = work.sha("HEAD");
    work.land();
    expect(work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override=incident 8"], "ada").status).toBe(0);
    const [o] = sb.json<Override[]>(["overrides", "--pending"]);
    expect(o!.commits).toEqual([
      expect.objectContaining({ sha: side, revno: null, verdict: "needstesting", via: expect.objectContaining({ sha: merge, revno: 2 }) }),
      expect.objectContaining({ sha: merge, revno: 2, verdict: "needstesting", via: null }),
    ]);
    expect(sb.prodgate(["explain", side]).stdout.split("\n")[0]).toMatch(/^deployable: no — in production-stable only by ada's override/);
    sb.prodgate(["qa", "ok", "r2"], "quinn");
    expect(sb.json<Override[]>(["overrides", "--pending"])).toEqual([]);
  });

  it("status and qa pending keep listing the unjudged revision; explain does not call it deployable", () => {
    const { r3 } = overrideR3();
    const st = sb.json<{ overridesPending: Override[]; pending: { sha: string; revno: number }[] }>(["status"]);
    expect(st.overridesPending).toHaveLength(1);
    expect(st.pending.map((p) => p.sha)).toContain(r3);
    expect(sb.prodgate(["status"]).stdout).toContain("OVERRIDES NOT YET JUDGED BY QA (1)");
    expect(sb.prodgate(["qa", "pending"]).stdout).toMatch(
      /^r3 {2}[0-9a-f]{7} {2}Test Author {2}just now {2}r3: hurried {2}\(in production-stable by override #\d+ of ada\)$/m,
    );
    const ex = sb.prodgate(["explain", "r3"]).stdout;
    expect(ex).not.toContain("deployable: yes");
    expect(ex.split("\n")[0]).toMatch(
      /^deployable: no — in production-stable only by ada's override #\d+ \(incident 7: checkout down\), not yet judged by QA$/,
    );
  });

  it("the report shows unjudged override content in a red banner, gone once QA has judged it", () => {
    const { r3 } = overrideR3();
    const page = sb.prodgate(["report"]).stdout;
    expect(page).toMatch(/<div class="banner" role="alert" id="overrides"><strong>OVERRIDE<\/strong>/);
    expect(page).toContain(`<li data-sha="${r3}">r3`);
    expect(page).toContain("<q>incident 7: checkout down</q>");
    expect(page).toContain('class="node prod override"');
    sb.prodgate(["qa", "ok", "r3"], "quinn");
    expect(sb.prodgate(["report"]).stdout).not.toContain('id="overrides"');
  });

  it("a later bad verdict on override content is loud in status and the report", () => {
    overrideR3();
    expect(sb.prodgate(["qa", "bad", "r3"], "quinn").status).toBe(0);
    expect(sb.json<Override[]>(["overrides", "--pending"])[0]).toMatchObject({ state: "bad" });
    const out = sb.prodgate(["status"]).stdout;
    expect(out).toContain("1 holding a BAD revision");
    expect(out).toContain("BAD, not rolled back");
    expect(sb.prodgate(["report"]).stdout).toContain("HOLDS A BAD REVISION");
  });
});

describe("production branches are told by what they hold", () => {
  it("status says production-stable holds stable rN, not a revno of its own", () => {
    work.commit("r2: fine");
    work.land();
    sb.prodgate(["qa", "ok", "r1", "r2"], "quinn");
    const out = sb.prodgate(["status"]).stdout;
    expect(out).toMatch(/^production-stable +holds stable r2 {2}\(tip [0-9a-f]{7}\)$/m);
    const st = sb.json<{ branches: Record<string, { holds?: { text: string; stable: { revno: number } } }> }>(["status"]);
    expect(st.branches["production-stable"]!.holds).toMatchObject({ text: "stable r2", stable: { revno: 2 } });
    const page = sb.prodgate(["report"]).stdout;
    expect(page).toMatch(
      /data-branch="production-stable"><span class="name">production-stable<\/span><span class="rev"><code title="[0-9a-f]{40}">[0-9a-f]{7}<\/code><\/span><span class="muted">holds stable r2<\/span>/,
    );
  });
});

describe("ranges", () => {
  it("a revno range includes both ends; a sha range means what git means; qa prints what it resolved to", () => {
    const r2 = work.commit("r2");
    work.commit("r3");
    const r4 = work.commit("r4");
    work.land();
    const q = sb.prodgate(["qa", "untestable", "r2..r3"], "quinn");
    expect(q.stdout).toMatch(/^untestable: r2 \S+ r2\nuntestable: r3 \S+ r3$/m);
    const st = sb.json<{ undeployed: { revno: number; verdict: string }[] }>(["status"]);
    expect(st.undeployed.filter((p) => p.verdict === "untestable").map((p) => p.revno)).toEqual([2, 3]);
    const g = sb.prodgate(["qa", "bad", `${r2}..${r4}`], "quinn");
    expect(g.stdout).not.toContain("bad: r2 ");
    expect(g.stdout).toContain("bad: r3 ");
    expect(g.stdout).toContain("bad: r4 ");
  });
});

describe("verdict labels", () => {
  it("a tag qa/ok/r2 pointing at r1 is refused with verdict-label; qa/ok/r1 there is accepted", () => {
    work.commit("r2");
    work.land();
    work.git(["tag", "qa/ok/r2", "HEAD~1"]);
    const p = work.push(["origin", "qa/ok/r2"], "quinn");
    expect(p.status).not.toBe(0);
    expect(p.output).toContain("[verdict-label]");
    expect(p.output).toMatch(/labelled r2 but points at r1/);
    work.git(["tag", "qa/ok/r1", "HEAD~1"]);
    expect(work.push(["origin", "qa/ok/r1"], "quinn").status).toBe(0);
  });
});

describe("override attempts and refusals are logged", () => {
  interface LogRow {
    decision: string;
    code: string;
    user: string;
    ref: string;
    detail: string | null;
  }
  it("an override without the admin role is refused with how to get the role, and logged as an attempt", () => {
    work.commit("r2: unapproved");
    work.land();
    const p = work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override=trust me"], "dev");
    expect(p.status).not.toBe(0);
    expect(p.output).toContain("the override was ignored: only the admin role may use it, and dev does not hold it");
    expect(p.output).toContain("prodgate role add admin dev");
    const row = sb.json<LogRow[]>(["log", "--rejected"]).find((r) => r.ref === "refs/heads/production-stable")!;
    expect(row).toMatchObject({ user: "dev", code: "unapproved", detail: 'override attempted without the admin role: "trust me"' });
  });

  it("a misspelt -o prodgate.overide=… is hinted and logged", () => {
    work.commit("r2: unapproved");
    work.land();
    const p = work.push(["origin", "HEAD:production-stable", "-o", "prodgate.overide=incident 9"], "ada");
    expect(p.status).not.toBe(0);
    expect(p.output).toContain(
      'the push option "prodgate.overide=incident 9" means nothing to prodgate: did you mean -o prodgate.override=incident 9?',
    );
    const row = sb.json<LogRow[]>(["log", "--rejected"]).find((r) => r.ref === "refs/heads/production-stable")!;
    expect(row.detail).toBe('unknown push option "prodgate.overide=incident 9": did you mean -o prodgate.override=incident 9?');
  });

  it("a push refused for an invalid configuration is in log --rejected; read-only commands still work and say so", () => {
    sb.git(["config", "prodgate.requireCi", "maybe"], { cwd: sb.bare });
    work.commit("r2");
    const p = work.push(["origin", "HEAD:devel"], "dev");
    expect(p.status).not.toBe(0);
    expect(p.output).toContain("prodgate.requireCi");
    const log = sb.prodgate(["log", "--rejected", "--json"]);
    expect(log.status).toBe(0);
    expect(log.stderr).toContain('prodgate: WARNING: the configuration is invalid: prodgate.requireCi: "maybe" is not true or false');
    const rows = JSON.parse(log.stdout) as LogRow[];
    expect(rows[0]).toMatchObject({ user: "dev", ref: "refs/heads/devel", decision: "rejected", code: "unavailable" });
    for (const args of [["status"], ["qa", "pending"], ["report"], ["overrides"]]) {
      const r = sb.prodgate(args);
      expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toContain("WARNING: the configuration is invalid");
    }
    // A command that changes something still refuses.
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).not.toBe(0);
  });
});

describe("the command itself", () => {
  it("no arguments is bad usage: exit 2 with the usage on stderr; --version prints the version", () => {
    const r = sb.run(process.execPath, [MAIN]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Usage: prodgate [options] [command]");
    expect(r.stdout).toBe("");
    const v = sb.run(process.execPath, [MAIN, "--version"]);
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("per-command help shows --repo, --json and examples; global options work after the command", () => {
    const h = sb.run(process.execPath, [MAIN, "log", "--help"]);
    expect(h.stdout).toContain("--repo <dir>");
    expect(h.stdout).toContain("--json");
    expect(h.stdout).toContain("Examples:\n  prodgate log --limit 20");
    const after = sb.run(process.execPath, [MAIN, "status", "--repo", sb.bare, "--json"]);
    expect(after.status, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout)).toHaveProperty("branches");
  });

  it("--json errors are {error: {code, message}} on stdout with the same exit code", () => {
    const bad = sb.prodgate(["explain", "r99", "--json"]);
    expect(bad.status).toBe(2);
    expect(JSON.parse(bad.stdout)).toEqual({ error: { code: "usage", message: expect.stringContaining("r99 does not exist") } });
    const unknown = sb.prodgate(["log", "--bogus", "--json"]);
    expect(unknown.status).toBe(2);
    expect(JSON.parse(unknown.stdout).error.code).toBe("usage");
    const plain = sb.prodgate(["explain", "r99"]);
    expect(plain.stdout).toBe("");
    expect(plain.stderr).toContain("r99 does not exist");
  });
});

/** Short shas and ages made stable, so a real run can be compared with what people should see. */
const normalise = (text: string): string => text.replace(/\b[0-9a-f]{7}\b/g, "#######");

describe("log and qa pending read like git log --oneline and gh", () => {
  it("log: aligned columns, relative times, notes and override reasons shown, exact times in --json", () => {
    work.commit("r2: hurried");
    work.land();
    sb.prodgate(["qa", "ok", "r1", "--note", "tried on staging"], "quinn");
    const p = work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override=incident 7"], "ada");
    expect(p.status, p.output).toBe(0);
    const out = normalise(sb.prodgate(["log", "--limit", "5"]).stdout);
    expect(out).toBe(
      [
        "just now  ada    mirror up-to-date  production-stable  #######..#######  production-stable already contains the deployable revision r2 #######",
        "just now  ada    OVERRIDE           production-stable  #######..#######  incident 7 — overrode unapproved: 1 new commit(s) not approved by QA — brought: ####### r2: hurried",
        "just now  quinn  mirror moved       production-stable  #######           production-stable moved to r1 ####### (fast-forward)",
        "just now  quinn  verdict ok                            #######           ok for r1 ####### — tried on staging",
        "just now  dev    fast-forward       stable             #######..#######  fast-forward",
        "",
      ].join("\n"),
    );
    const json = sb.json<{ at: string }[]>(["log", "--limit", "1"]);
    expect(json[0]!.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("qa pending: author and age in columns, and a bad revision without rollback above the list", () => {
    work.commit("r2: breaks checkout");
    work.commit("r3: more work");
    work.land();
    sb.prodgate(["qa", "ok", "r1"], "quinn");
    sb.prodgate(["qa", "bad", "r2"], "quinn");
    const out = normalise(sb.prodgate(["qa", "pending"]).stdout);
    expect(out).toBe(
      [
        "stopped by: r2 ####### r2: breaks checkout is BAD and no later revision rolls it back ([rollback=r2])",
        "r3  #######  Test Author  just now  r3: more work",
        "",
      ].join("\n"),
    );
    const json = sb.json<{ author: string; committedAt: string }[]>(["qa", "pending"]);
    expect(json[0]).toMatchObject({ author: "Test Author", committedAt: expect.stringMatching(/^\d{4}-/) });
  });

  it("colour only when asked for on a pipe (FORCE_COLOR), never with NO_COLOR or --no-color", () => {
    work.commit("r2");
    work.land();
    work.push(["origin", "HEAD:production-stable", "-o", "prodgate.override=incident 7"], "ada");
    const esc = "\u001b[31mOVERRIDE\u001b[0m";
    expect(sb.prodgate(["log"]).stdout).not.toContain("\u001b");
    expect(sb.prodgate(["log"], undefined, { FORCE_COLOR: "1" }).stdout).toContain(esc);
    expect(sb.prodgate(["log"], undefined, { FORCE_COLOR: "1", NO_COLOR: "1" }).stdout).not.toContain("\u001b");
    expect(sb.prodgate(["log", "--no-color"], undefined, { FORCE_COLOR: "1" }).stdout).not.toContain("\u001b");
    expect(sb.prodgate(["--json", "log"], undefined, { FORCE_COLOR: "1" }).stdout).not.toContain("\u001b");
  });
});

describe("explain leads with the answer", () => {
  it("a deployable revision that a hand-made push could not take: yes first, the refusal in one line", () => {
    sb.prodgate(["qa", "ok", "r1"], "quinn");
    work.commit("r2: fine");
    work.land();
    expect(sb.prodgate(["freeze", "--reason", "release weekend"], "ada").status).toBe(0);
    sb.prodgate(["qa", "ok", "r2"], "quinn");
    const lines = sb.prodgate(["explain", "r2"], "dev").stdout.trim().split("\n");
    expect(lines[0]).toBe("deployable: yes — it is the deployable revision");
    expect(lines.at(-1)).toMatch(/^a push of it to production-stable by dev: refused \[frozen\]: /);
    expect(lines.length).toBeLessThanOrEqual(6);
  });
});

describe("small confusions", () => {
  it("a command in a developer's clone says to use the server's repository, not to install there", () => {
    const r = sb.run(process.execPath, [MAIN, "--repo", work.dir, "status"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("belongs to a working clone, not to the server's repository");
    expect(r.stderr).not.toContain("install.sh");
  });

  it("install.sh on a non-bare clone warns", () => {
    const clone = sb.clone("other");
    const r = sb.run("bash", [join(PROJECT, "install.sh"), clone.dir], { env: { PATH: process.env.PATH } });
    expect(r.stderr).toContain("is a working clone, not a bare repository");
  });

  it("doctor fails a reportPath whose folder does not exist, and says how to fix it", () => {
    sb.git(["config", "prodgate.reportPath", join(sb.root, "no-such-dir", "report.html")], { cwd: sb.bare });
    const r = sb.prodgate(["doctor"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^FAIL\s+report: the folder .*no-such-dir of prodgate.reportPath does not exist: create it/m);
  });

  it("role list says the owner counts as admin for the admin command", () => {
    const out = sb.prodgate(["role", "list"]).stdout;
    expect(out).toMatch(
      /^the repository's owner, \S+, counts as admin for the admin command \(not for pushes: prodgate role add admin \S+\)$/m,
    );
  });

  it("a busy port says so and what to do", async () => {
    const server = createServer();
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const port = (server.address() as AddressInfo).port;
    try {
      const r = sb.prodgate(["serve", "--port", String(port)]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`port ${port} is already in use on 127.0.0.1; pick another with --port N (--port 0 picks a free one)`);
    } finally {
      server.close();
    }
  });
});

describe("docs/reference.md names every JSON field a real run prints", () => {
  const reference = readFileSync(join(PROJECT, "docs", "reference.md"), "utf8");
  /** Every object key in a document, but the branch names under `branches` and the role names of role list. */
  function keys(value: unknown, into = new Set<string>(), parent = ""): Set<string> {
    if (Array.isArray(value)) for (const v of value) keys(v, into, parent);
    else if (value && typeof value === "object")
      for (const [k, v] of Object.entries(value)) {
        if (parent !== "branches") into.add(k);
        keys(v, into, k);
      }
    return into;
  }
  it("status, qa, explain, overrides, log, security, doctor, role list", () => {
    const { r3 } = overrideR3();
    sb.prodgate(["qa", "bad", "r3"], "quinn");
    work.commit("r4: awaits QA");
    work.land();
    const found = new Set<string>();
    for (const args of [
      ["status"],
      ["qa", "pending"],
      ["explain", "r3"],
      ["explain", "r1"],
      ["overrides"],
      ["log"],
      ["security"],
      ["doctor"],
      ["qa", "untestable", "r2", "--note", "n"],
      ["explain", "r4"],
    ]) {
      const r = sb.prodgate([...args, "--json"], "quinn");
      keys(JSON.parse(r.stdout), found);
    }
    const roles = sb.json<Record<string, unknown>>(["role", "list"]);
    expect(roles).toHaveProperty("owner");
    found.add("owner");
    expect(r3).toBeTruthy();
    const missing = [...found].filter((k) => !reference.includes(`${k}`) || !new RegExp(`[\`{(, ]${k}[\`}:,) ]`).test(reference));
    expect(missing).toEqual([]);
  });
});

/* eslint-disable no-control-regex -- terminal output holds escape sequences */
describe("a pager for long output on a terminal", () => {
  const onTerminal = (command: string, env: Record<string, string>, cols = 300) =>
    sb.run("script", ["-qec", `stty rows 2 cols ${cols}; ${command}`, "/dev/null"], { env });
  const log = () => `"${process.execPath}" "${MAIN}" --repo "${sb.bare}" log`;

  it("goes through PAGER on a terminal when longer than it, never on a pipe", () => {
    const paged = onTerminal(log(), { PAGER: "sed s/^/paged:/" });
    expect(paged.stdout).toMatch(/^paged:(\u001b\[2m)?just now/m);
    const short = onTerminal(`${log()} --limit 1`, { PAGER: "sed s/^/paged:/" });
    expect(short.stdout).not.toContain("paged:");
    expect(sb.prodgate(["log"], undefined, { PAGER: "sed s/^/paged:/" }).stdout).not.toContain("paged:");
    expect(onTerminal(log(), { PAGER: "cat" }).stdout).toMatch(/^(\u001b\[2m)?just now/m);
  });

  it("cuts lines to the terminal's width", () => {
    const out = onTerminal(log(), { PAGER: "cat" }, 40).stdout.replace(/\u001b\[[0-9;]*m/g, "");
    const lines = out.split(/\r?\n/).filter((l) => l.startsWith("just now"));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(40);
    expect(lines[0]).toMatch(/…$/);
  });
});
