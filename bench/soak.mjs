#!/usr/bin/env node
// Soak: hold a push load on a prodgate repository for N minutes and report
// pushes/s, errors and the hooks' latency (p50/p95, as git runs them).
//   npm run build && node bench/soak.mjs [minutes=2] [clones=8]
// Not part of `npm test`.
import { execFile, spawnSync } from "node:child_process";
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PROJECT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MAIN = join(PROJECT, "dist", "prodgate.cjs");
const minutes = Number(process.argv[2] ?? "2");
const CLONES = Number(process.argv[3] ?? "8");
if (!(minutes > 0) || !(CLONES > 0)) {
  console.error("usage: node bench/soak.mjs [minutes] [clones]");
  process.exit(2);
}

const root = mkdtempSync(join(tmpdir(), "prodgate-soak-"));
const bare = join(root, "server.git");
const home = join(root, "home");
mkdirSync(home);
const timings = join(root, "hook-times.log");

const env = (extra = {}) => {
  const e = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("GIT_") && !k.startsWith("PRODGATE_") && !k.startsWith("GL_")) e[k] = v;
  return {
    ...e,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Soak",
    GIT_AUTHOR_EMAIL: "soak@example.com",
    GIT_COMMITTER_NAME: "Soak",
    GIT_COMMITTER_EMAIL: "soak@example.com",
    ...extra,
  };
};
const sync = (cmd, args, cwd = root, extra = {}) => {
  const r = spawnSync(cmd, args, { cwd, env: env(extra), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
};
const run = (cmd, args, cwd, extra = {}) =>
  new Promise((res) => {
    const t0 = process.hrtime.bigint();
    execFile(cmd, args, { cwd, env: env(extra), maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      res({
        status: err ? (typeof err.code === "number" ? err.code : 1) : 0,
        output: `${stdout}${stderr}`,
        ms: Number(process.hrtime.bigint() - t0) / 1e6,
      });
    });
  });

// --- set up: install, roles, the first revision, timing wrappers around the hooks ---
sync("bash", [join(PROJECT, "install.sh"), bare]);
for (const [role, user] of [
  ["qa", "quinn"],
  ["ci", "cid"],
  ["admin", "ada"],
])
  sync("git", ["config", "--add", `prodgate.roles.${role}`, user], bare);
for (const hook of ["pre-receive", "post-receive"]) {
  const path = join(bare, "hooks", hook);
  renameSync(path, `${path}.timed`);
  writeFileSync(
    path,
    `#!/bin/sh\n# prodgate-hook (soak timing wrapper)\nstart=$(date +%s%N)\n"$0.timed" "$@"\nstatus=$?\necho "${hook} $(( ($(date +%s%N) - start) / 1000 ))" >> '${timings}'\nexit $status\n`,
  );
  chmodSync(path, 0o755);
}
const seed = join(root, "seed");
sync("git", ["clone", "--quiet", bare, seed]);
sync("git", ["checkout", "--quiet", "-b", "devel"], seed);
writeFileSync(join(seed, "README"), "soak\n");
sync("git", ["add", "README"], seed);
sync("git", ["commit", "--quiet", "-m", "r1"], seed);
sync("git", ["push", "--quiet", "origin", "devel"], seed, { GL_USER: "dev" });
sync("git", ["push", "--quiet", "origin", "devel:stable"], seed, { GL_USER: "dev" });

// --- the load ---
const OWN_FAILURE = /database is locked|\[unavailable\]|audit log cannot be written|internal error|stayed locked/;
const GIT_RACE = /failed to update ref|fetch first|non-fast-forward|cannot lock ref|stale info/;
const stats = { pushes: 0, accepted: 0, raced: 0, errors: 0, verdicts: 0, syncs: 0, pushMs: [] };
const errors = [];
const deadline = Date.now() + minutes * 60_000;
const running = () => Date.now() < deadline;

async function push(dir, args, user) {
  const r = await run("git", ["push", ...args], dir, { GL_USER: user });
  stats.pushes++;
  stats.pushMs.push(r.ms);
  if (r.status === 0) stats.accepted++;
  else if (GIT_RACE.test(r.output)) stats.raced++;
  if (OWN_FAILURE.test(r.output) || (r.status !== 0 && !GIT_RACE.test(r.output))) {
    stats.errors++;
    if (errors.length < 5) errors.push(r.output.trim().split("\n").slice(0, 4).join(" | "));
  }
  return r;
}

async function developer(i) {
  const dir = join(root, `dev${i}`);
  await run("git", ["clone", "--quiet", bare, dir], root);
  await run("git", ["checkout", "--quiet", "devel"], dir);
  for (let n = 0; running(); n++) {
    appendFileSync(join(dir, `dev${i}.txt`), `${n}\n`);
    await run("git", ["commit", "--quiet", "-am", `dev${i} change ${n}`], dir);
    if (n === 0) await run("git", ["add", "."], dir).then(() => run("git", ["commit", "--quiet", "-m", `dev${i} start`], dir));
    await push(dir, ["--quiet", "origin", `HEAD:refs/heads/feature-${i}`, "--force"], `dev${i}`);
    let landed = false;
    for (let attempt = 0; attempt < 10 && running() && !landed; attempt++) {
      const r = await push(dir, ["--quiet", "origin", "HEAD:devel"], `dev${i}`);
      landed = r.status === 0;
      if (!landed) {
        await run("git", ["fetch", "--quiet", "origin"], dir);
        await run("git", ["rebase", "--quiet", "origin/devel"], dir);
      }
    }
    if (landed && n % 2 === 0) {
      await run("git", ["fetch", "--quiet", "origin"], dir);
      if ((await run("git", ["merge-base", "--is-ancestor", "origin/stable", "HEAD"], dir)).status === 0)
        await push(dir, ["--quiet", "origin", "HEAD:stable"], `dev${i}`);
    }
  }
}

async function qa() {
  const dir = join(root, "qa");
  await run("git", ["clone", "--quiet", bare, dir], root);
  for (let n = 0; running(); n++) {
    const pending = await run(process.execPath, [MAIN, "--repo", bare, "qa", "pending", "--json"], root);
    const first = pending.status === 0 ? JSON.parse(pending.output)[0] : null;
    if (!first) {
      await sleep(250);
      continue;
    }
    if (n % 2 === 0) {
      const r = await run(process.execPath, [MAIN, "--repo", bare, "qa", "ok", first.sha], root, { GL_USER: "quinn" });
      if (r.status === 0) stats.verdicts++;
      else if (errors.length < 5) errors.push(r.output.trim());
    } else {
      await run("git", ["fetch", "--quiet", "origin"], dir);
      await run("git", ["tag", `qa/ok/soak-${n}`, first.sha], dir);
      if ((await push(dir, ["--quiet", "origin", `refs/tags/qa/ok/soak-${n}`], "quinn")).status === 0) stats.verdicts++;
    }
  }
}

async function syncLoop() {
  while (running()) {
    const r = await run(process.execPath, [MAIN, "--repo", bare, "sync"], root);
    stats.syncs++;
    if (r.status !== 0 || OWN_FAILURE.test(r.output)) {
      stats.errors++;
      if (errors.length < 5) errors.push(r.output.trim());
    }
  }
}

const started = Date.now();
console.log(`soak: ${CLONES} clones, QA and a sync loop for ${minutes} min on ${bare}`);
await Promise.all([...Array.from({ length: CLONES }, (_, i) => developer(i)), qa(), syncLoop()]);
const seconds = (Date.now() - started) / 1000;

// --- the figures ---
const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const hookMs = { "pre-receive": [], "post-receive": [] };
for (const line of readFileSync(timings, "utf8").split("\n")) {
  const [hook, us] = line.split(" ");
  if (hookMs[hook]) hookMs[hook].push(Number(us) / 1000);
}
sync(process.execPath, [MAIN, "--repo", bare, "sync"]);
const status = JSON.parse(sync(process.execPath, [MAIN, "--repo", bare, "status", "--json"]));
const prod = sync("git", ["rev-parse", "--verify", "--quiet", "refs/heads/production-stable"], bare);
const fsck = spawnSync("git", ["fsck", "--no-progress"], { cwd: bare, env: env() });
const f = (x) => x.toFixed(0);
console.log(`duration            ${seconds.toFixed(0)} s`);
console.log(
  `pushes              ${stats.pushes} (${(stats.pushes / seconds).toFixed(2)}/s), ${stats.accepted} accepted, ${stats.raced} lost a ref race (git's, retried)`,
);
console.log(`verdicts recorded   ${stats.verdicts}; sync runs ${stats.syncs}`);
console.log(`errors              ${stats.errors}${errors.length ? `\n  ${errors.join("\n  ")}` : ""}`);
for (const [hook, xs] of Object.entries(hookMs))
  console.log(`${hook.padEnd(20)}p50 ${f(pct(xs, 50))} ms, p95 ${f(pct(xs, 95))} ms (${xs.length} runs)`);
console.log(`git push (client)   p50 ${f(pct(stats.pushMs, 50))} ms, p95 ${f(pct(stats.pushMs, 95))} ms`);
console.log(
  `converged           ${prod === status.deployable?.sha ? "yes" : "NO"} (production-stable ${prod.slice(0, 7)}, deployable r${status.deployable?.revno})`,
);
console.log(`fsck                ${fsck.status === 0 ? "clean" : "FAILED"}`);
if (!process.env.SOAK_KEEP) rmSync(root, { recursive: true, force: true });
process.exitCode = stats.errors > 0 || fsck.status !== 0 || prod !== status.deployable?.sha ? 1 : 0;
