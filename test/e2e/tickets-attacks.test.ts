// QA by ticket under attack: a developer with push access and no role, who
// writes any commit message and pushes devel and stable as often as they
// like, tries to get a revision QA did not approve onto production-stable
// through a verdict QA gave by ticket. Real pushes through installed hooks.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
let r1: string;

interface Pending {
  sha: string;
  revno: number;
  verdict: string;
  tickets: string[];
}

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
  r1 = work.sha("HEAD");
  expect(sb.tip("production-stable")).toBe(r1);
});
afterEach(() => sb.cleanup());

const pending = () => sb.json<{ pending: Pending[] }>(["status"]).pending;
const undeployed = () => sb.json<{ undeployed: Pending[] }>(["status"]).undeployed;
const REAL_GIT = spawnSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).stdout.trim();

describe("a bad verdict holds", () => {
  // QA found r2 bad. Its author lands the fix for the ticket together with work
  // on another ticket; QA tries the ticket again with the fix in and says ok.
  // That ok is about the ticket with the fix: it must not free r2 to go out
  // alone, ahead of the fix that is still waiting for its other ticket.
  it("an ok by ticket given after a later landing does not let the bad revision out without it", () => {
    work.commit("[bug=50] new importer", { "importer.txt": "broken\n" });
    work.land();
    expect(sb.prodgate(["qa", "bad", "--ticket", "50"], "quinn").status).toBe(0);
    const fix = work.commit("[bug=50] [bug=51] fix the importer, and start the exporter", { "importer.txt": "fixed\n" });
    work.land();

    const ok = sb.prodgate(["qa", "ok", "--ticket", "50"], "quinn");
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/r2 .*stays bad/);
    // Nothing QA found bad went out on its own.
    expect(sb.tip("production-stable")).toBe(r1);
    expect(undeployed().map((p) => [p.revno, p.verdict])).toEqual([
      [2, "bad"],
      [3, "needstesting"],
    ]);
    // Once the fix is approved as well, the bad revision still needs its own word (or a rollback).
    expect(sb.prodgate(["qa", "ok", "--ticket", "51"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r1);
    expect(sb.prodgate(["qa", "ok", "r2"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(fix);
  });

  it("the same by ticket tag", () => {
    work.commit("[bug=50] new importer");
    work.land();
    expect(sb.prodgate(["qa", "bad", "r2"], "quinn").status).toBe(0);
    const fix = work.commit("[bug=50] [bug=51] fix the importer, and start the exporter");
    work.land();
    work.git(["tag", "qa/ok/ticket-50", fix]);
    const p = work.push(["origin", "qa/ok/ticket-50"], "quinn");
    expect(p.status, p.output).toBe(0);
    expect(p.output).toMatch(/r2 stays bad/);
    expect(sb.tip("production-stable")).toBe(r1);
    expect(undeployed()[0]).toMatchObject({ revno: 2, verdict: "bad" });
  });

  it("a needstesting by ticket with the later landing in does not forget the bad for the next ok", () => {
    work.commit("[bug=50] new importer");
    work.land();
    expect(sb.prodgate(["qa", "bad", "--ticket", "50"], "quinn").status).toBe(0);
    work.commit("[bug=50] [bug=51] fix the importer, and start the exporter");
    work.land();
    const reset = sb.prodgate(["qa", "needstesting", "--ticket", "50"], "quinn");
    expect(reset.status, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/r2 .*stays bad/);
    expect(sb.prodgate(["qa", "ok", "--ticket", "50"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r1);
    expect(undeployed()[0]).toMatchObject({ revno: 2, verdict: "bad" });
  });

  it("a rollback that names the ticket too takes the bad revision out only with it", () => {
    work.commit("[bug=50] new importer", { "importer.txt": "broken\n" });
    work.land();
    expect(sb.prodgate(["qa", "bad", "--ticket", "50"], "quinn").status).toBe(0);
    const rollback = work.commit("[rollback=2] [bug=50] take the importer out again", { "importer.txt": "" });
    work.commit("[bug=51] an untested exporter");
    work.land();
    const ok = sb.prodgate(["qa", "ok", "--ticket", "50"], "quinn");
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/r2 .*stays bad/);
    expect(sb.tip("production-stable")).toBe(rollback);
    expect(pending().map((p) => p.revno)).toEqual([4]);
  });

  it("QA can still change its mind about a single revision by ticket", () => {
    const r2 = work.commit("[bug=50] new importer");
    work.land();
    expect(sb.prodgate(["qa", "bad", "--ticket", "50"], "quinn").status).toBe(0);
    expect(sb.prodgate(["qa", "ok", "--ticket", "50"], "quinn").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r2);
  });
});

describe("ticket ids are compared exactly", () => {
  it("look-alike references are other tickets: an ok on ticket 7 approves none of them", () => {
    const real = work.commit("[bug=7] the fix QA tried");
    work.land();
    for (const msg of [
      "[bug=07] leading zero",
      "[bug=\uff17] fullwidth seven",
      "LP: #7x not a ticket 7",
      "Fixes #7_8 neither",
      "[bug=7\u200b] zero-width",
    ]) {
      work.commit(msg);
    }
    work.land();
    const r = sb.prodgate(["qa", "ok", "--ticket", "7"], "quinn");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("ok recorded on 1 revision(s)");
    expect(sb.tip("production-stable")).toBe(real);
    expect(pending()).toHaveLength(5);
    // Keys differ by case too, when a pattern finds them.
    sb.git(["config", "--add", "prodgate.tickets.pattern", "\\b([A-Za-z]+-[0-9]+)\\b"], { cwd: sb.bare });
    work.commit("app-1 lower case");
    work.land();
    expect(sb.prodgate(["qa", "ok", "--ticket", "APP-1"], "quinn").status).toBe(1);
  });
});

describe("hostile ticket ids and tag names", () => {
  it("are refused with one clear line, and change nothing", () => {
    work.commit("[bug=7] something");
    work.land();
    for (const name of ["qa/ok/ticket-", "qa/ok/ticket-a/b", `qa/ok/ticket-${"9".repeat(65)}`, "qa/ok/ticket--1", "qa/ok/ticket-.x"]) {
      work.git(["tag", name, "HEAD"]);
      const p = work.push(["origin", `refs/tags/${name}`], "quinn");
      expect(p.status, name).not.toBe(0);
      expect(p.output, name).toContain("[bad-tag-name]");
      expect(p.output, name).not.toMatch(/\bat .*\.(c?js|ts):\d+/);
      expect(sb.tip(`refs/tags/${name}`)).toBeNull();
    }
    for (const id of ["\x1b[31mred", "7\n8", "../7", "", "7 8"]) {
      for (const args of [
        ["qa", "ok", "--ticket", id],
        ["tickets", id],
      ]) {
        const r = sb.prodgate(args, "quinn");
        expect(r.status, JSON.stringify(args)).toBe(2);
        expect(r.stderr.trim().split("\n"), JSON.stringify(args)).toHaveLength(1);
        expect(r.stderr + r.stdout).not.toContain("\x1b");
      }
    }
    expect(pending()).toHaveLength(1);
  });
});

describe("a tag that looks like a ticket tag but is not one", () => {
  it("is refused with one line saying how to spell it, never taken as a verdict on the tagged revision", () => {
    const r2 = work.commit("[bug=7] the fix");
    work.land();
    for (const name of ["qa/ok/Ticket-7", "qa/ok/TICKET-7", "qa/ok/ticket7", "qa/ok/tickets-7"]) {
      work.git(["tag", name, r2]);
      const p = work.push(["origin", `refs/tags/${name}`], "quinn");
      expect(p.status, name).not.toBe(0);
      expect(p.output, name).toContain("[bad-tag-name]");
      expect(p.output, name).toContain(
        'looks like a ticket verdict tag but is not one: a ticket tag is qa/<verdict>/ticket-<id>, "ticket-" in lower case',
      );
      expect(sb.tip(`refs/tags/${name}`)).toBeNull();
    }
    expect(sb.tip("production-stable")).toBe(r1);
    expect(pending().map((p) => p.sha)).toEqual([r2]);
    // Free-form labels of revision verdicts still work, one that starts with the word included.
    for (const name of ["qa/ok/anything", "qa/ok/ticketing-release", "qa/ok/r2"]) {
      work.git(["tag", name, r2]);
      expect(work.push(["origin", `refs/tags/${name}`], "quinn").status, name).toBe(0);
    }
    expect(sb.tip("production-stable")).toBe(r2);
  });
});

describe("a ticket tag spelled with characters outside ASCII", () => {
  it("is refused with one line, never taken as a verdict on the tagged revision and all its tickets", () => {
    // QA tried ticket 7 only: a verdict on r2 itself would clear ticket 8, which nobody tried.
    const r2 = work.commit("[bug=7] [bug=8] two fixes");
    work.land();
    const names = [
      "qa/ok/T\u0130CKET-7", // a capital I with a dot, as a Turkish keyboard types it
      "qa/ok/t\u0456cket-7", // a Cyrillic i
      "qa/ok/\u200bticket-7", // a zero-width space first
      "qa/ok/tic\u00adket-7", // a soft hyphen
      "qa/ok/\uff54\uff49\uff43\uff4b\uff45\uff54-7", // full-width letters
    ];
    for (const name of names) {
      work.git(["tag", name, r2]);
      const p = work.push(["origin", `refs/tags/${name}`], "quinn");
      expect(p.status, name).not.toBe(0);
      expect(p.output, name).toContain("[bad-tag-name]");
      expect(
        p.output.split("\n").filter((l) => l.includes("[bad-tag-name]")),
        name,
      ).toHaveLength(1);
      expect(sb.tip(`refs/tags/${name}`), name).toBeNull();
    }
    expect(sb.tip("production-stable")).toBe(r1);
    expect(pending().map((p) => p.sha)).toEqual([r2]);
  });
});

describe("the prefetched mainline", () => {
  // deployState reads the branch tips, then (in the same shell) reads them
  // again and lists stable's mainline by those shas. A git that moves stable
  // between the two reads makes the second answer about another stable: it
  // must never be taken for the first.
  it("is never taken for tips it was not asked with", () => {
    const r2 = work.commit("[bug=9] the fix QA tried");
    work.land();
    const r3 = work.commit("[bug=9] a late addition nobody tried");
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    const dir = join(sb.root, "wrapper");
    mkdirSync(dir);
    // The follow-up's own read of the tips (a space between name and sha): stable moves first, once.
    writeFileSync(
      join(dir, "git"),
      `#!/bin/sh
case "$*" in *"for-each-ref --format=%(refname) %(objectname)"*)
  if [ ! -e "${dir}/moved" ]; then : >"${dir}/moved"; "${REAL_GIT}" update-ref refs/heads/stable ${r3} ${r2}; fi ;;
esac
exec "${REAL_GIT}" "$@"
`,
    );
    chmodSync(join(dir, "git"), 0o755);
    const r = sb.prodgate(["qa", "ok", "--ticket", "9"], "quinn", { PATH: `${dir}:${process.env.PATH}` });
    expect(r.status, r.stderr).toBe(0);
    expect(sb.tip("stable")).toBe(r3);
    expect(r.stdout).toContain("ok recorded on 1 revision(s)");
    expect(sb.tip("production-stable")).toBe(r2);
    expect(pending().map((p) => p.sha)).toEqual([r3]);
  });
});

describe("ref names a shell would read as commands", () => {
  // git allows $( ) ` ; | & ' " < > in ref names. The hooks' shell and the
  // prefetch's shell script must treat them as text, on a push that runs the
  // engine (a stable update asks for the deployable state) and on one that does not.
  it("run nothing, and the governed part of the push is decided as usual", () => {
    const names = ["a;touch${IFS}PWN1", "$(touch${IFS}PWN2)", "`touch${IFS}PWN3`", "x'$(touch${IFS}PWN4)'", 'a|touch${IFS}PWN5&c>d<e"f'];
    const r2 = work.commit("[bug=3] change");
    const refspecs = names.map((n) => `HEAD:refs/heads/${n}`);
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    const p = work.push(["origin", "HEAD:stable", ...refspecs], "dev");
    expect(p.status, p.output).toBe(0);
    expect(sb.tip("stable")).toBe(r2);
    for (const n of names) expect(sb.tip(`refs/heads/${n}`), n).toBe(r2);
    const ok = sb.prodgate(["qa", "ok", "--ticket", "3"], "quinn");
    expect(ok.status, ok.stderr).toBe(0);
    expect(sb.tip("production-stable")).toBe(r2);
    const ungoverned = work.push(["origin", ...names.map((n) => `:refs/heads/${n}`)], "dev");
    expect(ungoverned.status, ungoverned.output).toBe(0);
    const found = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? found(join(dir, e.name)) : e.name.startsWith("PWN") ? [join(dir, e.name)] : [],
      );
    expect(found(sb.root)).toEqual([]);
    expect(found(process.cwd()).filter((f) => !f.includes("node_modules"))).toEqual([]);
  });
});

describe("what QA reads", () => {
  it("an author's terminal escapes never reach QA's terminal from qa pending --by-ticket or qa --ticket", () => {
    work.git(["commit", "--quiet", "--allow-empty", "-m", "[bug=4] hello"], {
      GIT_AUTHOR_NAME: "Eve \x1b]0;pwned\x07\x1b[2J\u202e",
    });
    work.land();
    for (const args of [
      ["qa", "pending", "--by-ticket"],
      ["qa", "pending"],
      ["tickets", "4"],
      ["explain", "r2"],
      ["qa", "ok", "--ticket", "4"],
    ]) {
      const r = sb.prodgate(args, "quinn");
      expect(r.status, JSON.stringify(args)).toBe(0);
      for (const c of ["\x1b", "\x07", "\u202e"]) expect(r.stdout, JSON.stringify(args)).not.toContain(c);
    }
  });
});

describe("refs/replace", () => {
  // A replace ref is the attacker's to push; prodgate reads history with replacements off.
  it("cannot give a revision a ticket reference (or take one away) for a verdict by ticket", () => {
    const r2 = work.commit("an untested change");
    const r3 = work.commit("[bug=8] the fix QA tried");
    work.land();
    // r2 replaced by a commit saying [bug=8]; r3 by one that names no ticket.
    const fake = (sha: string, msg: string) => work.git(["commit-tree", `${sha}^{tree}`, "-p", `${sha}^`, "-m", msg]);
    const r2fake = fake(r2, "[bug=8] an untested change");
    const r3fake = fake(r3, "the fix QA tried");
    const p = work.push(["origin", `${r2fake}:refs/replace/${r2}`, `${r3fake}:refs/replace/${r3}`], "dev");
    expect(p.status, p.output).toBe(0);
    expect(sb.git(["log", "-1", "--format=%s", r2], { cwd: sb.bare })).toBe("[bug=8] an untested change");

    const ok = sb.prodgate(["qa", "ok", "--ticket", "8"], "quinn");
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("ok recorded on 1 revision(s)");
    expect(ok.stdout).toMatch(/ok: r3 /);
    expect(sb.tip("production-stable")).toBe(r1);
    expect(pending().map((x) => [x.sha, x.tickets])).toEqual([[r2, []]]);
  });
});

describe("a merge on stable's mainline", () => {
  // The side commit names the ticket QA is about to approve; the merge that
  // brings it (with whatever else) onto the mainline does not.
  it("is not taken by a verdict on a ticket only its second parent's messages name", () => {
    const base = work.sha("HEAD");
    work.git(["checkout", "--quiet", "-b", "side"]);
    work.commit("[bug=12] small fix");
    work.commit("untested extras", { "extras.sh": "rm -rf /\n" });
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["merge", "--quiet", "--no-ff", "--no-log", "-m", "Merge side", "side"]);
    const merge = work.sha("HEAD");
    work.land();
    expect(work.sha("HEAD^")).toBe(base);
    const r = sb.prodgate(["qa", "ok", "--ticket", "12"], "quinn");
    expect(r.status).toBe(1);
    expect(sb.tip("production-stable")).toBe(r1);
    expect(pending().map((p) => [p.sha, p.tickets])).toEqual([[merge, []]]);
  });
});
