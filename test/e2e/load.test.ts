// Load: many clones pushing at once to governed and ungoverned refs while QA
// records verdicts and sync runs in a loop. prodgate must never refuse a push
// because of its own locking, and must record every accepted push once.
import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAIN, type Sandbox, standardSandbox } from "../helpers/repo";

interface Outcome {
  status: number;
  output: string;
}

let sb: Sandbox;

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: sb.env(env), maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ status, output: `${stdout}${stderr}` });
    });
  });
}

/** What prodgate must never say under load: its own locking or a crash refused the push. */
const OWN_FAILURE = /database is locked|\[unavailable\]|audit log cannot be written|internal error|stayed locked/;
/** git's own ref races: the client retries after fetching. */
const GIT_RACE = /failed to update ref|fetch first|non-fast-forward|cannot lock ref|stale info/;

interface Landed {
  ref: string;
  new: string;
}

const landed: Landed[] = [];
/**
 * Updates that pre-receive accepted and git then failed to apply (another push
 * took the ref first): the decision is logged, and a retry of the same commit
 * is a second decision.
 */
const decidedButRaced = new Set<string>();
const ownFailures: string[] = [];
let pushes = 0;

/** Push `src:dst` from a clone; on a ref race fetch, rebase and try again. Records what landed. */
async function pushWithRetry(dir: string, user: string, dst: string, rebaseOnto: string | null): Promise<boolean> {
  for (let attempt = 0; attempt < 25; attempt++) {
    const head = (await run("git", ["rev-parse", "HEAD"], dir)).output.trim();
    const p = await run("git", ["push", "origin", `HEAD:refs/heads/${dst}`], dir, { GL_USER: user });
    pushes++;
    if (OWN_FAILURE.test(p.output)) ownFailures.push(p.output);
    if (p.status === 0) {
      landed.push({ ref: `refs/heads/${dst}`, new: head });
      return true;
    }
    if (/failed to update ref|cannot lock ref/.test(p.output)) decidedButRaced.add(`refs/heads/${dst} ${head}`);
    if (!GIT_RACE.test(p.output) || !rebaseOnto) return false;
    await run("git", ["fetch", "--quiet", "origin"], dir);
    const rebase = await run("git", ["rebase", "--quiet", `origin/${rebaseOnto}`], dir);
    if (rebase.status !== 0) throw new Error(`rebase failed: ${rebase.output}`);
  }
  return false;
}

async function developer(i: number, rounds: number): Promise<void> {
  const dir = `${sb.root}/dev${i}`;
  await run("git", ["clone", "--quiet", sb.bare, dir], sb.root);
  await run("git", ["checkout", "--quiet", "devel"], dir);
  for (let r = 0; r < rounds; r++) {
    await run("sh", ["-c", `echo ${i}-${r} > dev${i}-${r}.txt && git add . && git commit --quiet -m "dev${i} round ${r}"`], dir);
    const feature = await run("git", ["push", "--quiet", "origin", `HEAD:refs/heads/feature-${i}-${r}`], dir, { GL_USER: `dev${i}` });
    pushes++;
    if (OWN_FAILURE.test(feature.output)) ownFailures.push(feature.output);
    if (!(await pushWithRetry(dir, `dev${i}`, "devel", "devel"))) continue;
    // Advance stable to what we just landed when that is a fast-forward; git refuses it otherwise.
    await run("git", ["fetch", "--quiet", "origin"], dir);
    const ff = await run("git", ["merge-base", "--is-ancestor", "origin/stable", "HEAD"], dir);
    if (ff.status === 0) await pushWithRetry(dir, `dev${i}`, "stable", null);
  }
}

async function qaWorker(stop: () => boolean): Promise<void> {
  const dir = `${sb.root}/qa`;
  await run("git", ["clone", "--quiet", sb.bare, dir], sb.root);
  let n = 0;
  while (!stop()) {
    const pending = await run(process.execPath, [MAIN, "--repo", sb.bare, "qa", "pending", "--json"], sb.root);
    const list = pending.status === 0 ? (JSON.parse(pending.output) as { sha: string }[]) : [];
    if (OWN_FAILURE.test(pending.output)) ownFailures.push(pending.output);
    const target = list[0];
    if (!target) {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    n++;
    if (n % 2 === 0) {
      const r = await run(process.execPath, [MAIN, "--repo", sb.bare, "qa", "ok", target.sha], sb.root, { GL_USER: "quinn" });
      if (OWN_FAILURE.test(r.output) || r.status !== 0) ownFailures.push(r.output);
    } else {
      await run("git", ["fetch", "--quiet", "origin"], dir);
      const tag = `qa/ok/load-${n}`;
      await run("git", ["tag", tag, target.sha], dir);
      const p = await run("git", ["push", "origin", `refs/tags/${tag}`], dir, { GL_USER: "quinn" });
      pushes++;
      if (OWN_FAILURE.test(p.output)) ownFailures.push(p.output);
      if (p.status === 0) landed.push({ ref: `refs/tags/${tag}`, new: target.sha });
    }
  }
}

async function syncLoop(stop: () => boolean): Promise<number> {
  let runs = 0;
  while (!stop()) {
    const r = await run(process.execPath, [MAIN, "--repo", sb.bare, "sync"], sb.root);
    if (OWN_FAILURE.test(r.output) || r.status !== 0) ownFailures.push(r.output);
    runs++;
  }
  return runs;
}

beforeAll(() => {
  ({ sb } = standardSandbox());
});
afterAll(() => sb.cleanup());

describe("under concurrent load", () => {
  it("takes every push, records each accepted one once, and converges", { timeout: 600_000 }, async () => {
    const DEVELOPERS = 8;
    const ROUNDS = 2;
    let done = false;
    const background = Promise.all([qaWorker(() => done), syncLoop(() => done)]);
    await Promise.all(Array.from({ length: DEVELOPERS }, (_, i) => developer(i, ROUNDS)));
    done = true;
    const [, syncRuns] = await background;

    expect(ownFailures).toEqual([]);
    expect(syncRuns).toBeGreaterThan(0);
    const governedLanded = landed;
    expect(governedLanded.length).toBeGreaterThanOrEqual(DEVELOPERS * ROUNDS);

    const log = sb.json<{ ref: string | null; new: string | null; decision: string; pushId: string | null }[]>([
      "log",
      "--limit",
      "100000",
    ]);
    for (const l of governedLanded) {
      const rows = log.filter((e) => e.decision === "accepted" && e.ref === l.ref && e.new === l.new);
      if (decidedButRaced.has(`${l.ref} ${l.new}`)) expect(rows.length).toBeGreaterThanOrEqual(1);
      else expect(rows, `${l.ref} ${l.new.slice(0, 7)}`).toHaveLength(1);
      expect(rows[0]!.pushId).toBeTruthy();
    }
    // Each verdict tag that landed is recorded as a verdict exactly once.
    for (const l of governedLanded.filter((x) => x.ref.startsWith("refs/tags/qa/"))) {
      expect(log.filter((e) => e.decision === "verdict" && e.ref === l.ref)).toHaveLength(1);
    }

    expect(sb.prodgate(["sync"]).status).toBe(0);
    const status = sb.json<{ deployable: { sha: string } | null }>(["status"]);
    expect(status.deployable).not.toBeNull();
    expect(sb.tip("production-stable")).toBe(status.deployable!.sha);
    const fsck = sb.fsck();
    expect(fsck.status, fsck.stderr).toBe(0);
    // Summary for the report.
    console.log(`load: ${pushes} pushes, ${governedLanded.length} governed pushes landed, ${syncRuns} sync runs`);
  });
});
