// A repository in the state the deployment report is about: something
// deployable, something awaiting QA, something bad, a security fix, a
// rejected push and a freeze, all made through real pushes and commands.
import { type Clone, type Sandbox, standardSandbox } from "./repo";

export const SCRIPT_SUBJECT = "<script>window.__pwned=1</script>";
export const SCRIPT_USER = "<script>window.__pwned=2</script>";
export const SCRIPT_NOTE = "<script>window.__pwned=3</script>";
export const FIX_SUBJECT = "security: check the session token";
export const SCRIPT_COWBOY = "<script>window.__pwned=4</script>";
export const OVERRIDE_SUBJECT = "hotfix: restart the cache nightly";
export const OVERRIDE_REASON = "incident 7: cache leak";

export interface ReportScenario {
  sb: Sandbox;
  work: Clone;
  /** r2: approved, the deployable revision, held back by the freeze. */
  deployable: string;
  /** r3: the script subject, awaiting QA; it stops the walk. */
  pending: string;
  /** r4: marked bad with a script note. */
  bad: string;
  fix: string;
}

function ok(r: { status: number; stdout: string; stderr: string }, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stdout}${r.stderr}`);
}

export function reportScenario(): ReportScenario {
  const { sb, work } = standardSandbox();
  ok(sb.prodgate(["qa", "ok", "r1"], "quinn"), "qa ok r1");

  // A security fix: prepared on production-devel, tested, promoted by the security role.
  work.git(["fetch", "--quiet", "origin"]);
  work.git(["checkout", "--quiet", "-b", "prod", "origin/production-stable"]);
  const fix = work.commit(FIX_SUBJECT, { "session.txt": "checked\n" });
  ok(work.push(["origin", "HEAD:production-devel"], "sam"), "push production-devel");
  ok(sb.prodgate(["ci", "pass", fix], "cid"), "ci pass");
  ok(work.push(["origin", "HEAD:production-stable"], "sam"), "promote the fix");

  work.git(["checkout", "--quiet", "devel"]);
  const deployable = work.commit("r2: faster search", { "search.txt": "fast\n" });
  work.land();
  // Frozen for the release: r2 is approved, deployable, and waits for the thaw.
  ok(sb.prodgate(["freeze", "--reason", "release day: hold production"], "ada"), "freeze");
  // Break-glass while frozen: a hotfix straight onto production-stable, which QA has not judged.
  work.git(["checkout", "--quiet", "prod"]);
  work.commit(OVERRIDE_SUBJECT, { "cache.txt": "restart nightly\n" });
  ok(work.push(["origin", "HEAD:production-stable", "-o", `prodgate.override=${OVERRIDE_REASON}`], "ada"), "override");
  work.git(["checkout", "--quiet", "devel"]);
  ok(sb.prodgate(["qa", "ok", "r2", "--note", "tried on staging"], "quinn"), "qa ok r2");
  const pending = work.commit(SCRIPT_SUBJECT, { "page.txt": "a page\n" });
  work.land();
  const bad = work.commit("r4: new checkout page", { "checkout.txt": "new\n" });
  work.land();
  ok(sb.prodgate(["qa", "bad", "r4", "--note", SCRIPT_NOTE], "quinn"), "qa bad r4");

  // A rejected push (stable takes only commits already on devel), by a user whose name carries a script.
  work.git(["checkout", "--quiet", "-b", "side"]);
  work.commit("not on devel");
  const rejected = work.push(["origin", "side:stable"], SCRIPT_USER);
  if (!rejected.output.includes("[not-on-devel]")) throw new Error(`the push was not rejected as expected: ${rejected.output}`);
  work.git(["checkout", "--quiet", "devel"]);

  // Operations: production-stable runs on two servers, and one of them carries a hot patch applied by hand.
  sb.grant("ops", "otto");
  ok(sb.prodgate(["deploy", "record", "app1.prod", "app2.prod", "production-stable"], "otto"), "deploy record");
  work.git(["fetch", "--quiet", "origin"]);
  work.git(["checkout", "--quiet", "-b", "hotfix", "origin/production-stable"]);
  const hot = work.commit("hot patch: raise the pool size", { "pool.txt": "64\n" });
  ok(work.push(["origin", "HEAD:refs/heads/hotfix"], "dev"), "push the hot patch");
  ok(sb.prodgate(["cowboy", "add", "app2.prod", "--commit", hot, "--reason", SCRIPT_COWBOY], "otto"), "cowboy add");
  work.git(["checkout", "--quiet", "devel"]);
  return { sb, work, deployable, pending, bad, fix };
}
