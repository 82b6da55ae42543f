#!/usr/bin/env node
// npm run bench:bzr: prodgate's Bazaar gate against a plain `brz serve` of the
// same repository, side by side in one run, on histories built with
// `brz fast-import`: N mainline revisions, one small change each, and every
// fourth a landing that merges a side revision (as a patch queue manager
// lands branches).
//
//   node bench/bzr.mjs [--revisions 1000,5000,20000] [--runs N] [--out FILE]
//
// Per size: install.sh --bzr on the existing repository (timed once), then N
// rounds of: commit one change in a client branch; push it to devel and to
// stable of both servers; `prodgate status`; `prodgate qa ok` of the new
// stable revision, which moves production-stable. Prints medians and the load
// average, and writes them as JSON (default bench/out/bzr.json). Histories are
// cached under bench/out/cache.
import { Buffer } from "node:buffer";
import { spawn, spawnSync } from "node:child_process";
import { setTimeout } from "node:timers";
import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PROJECT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MAIN = join(PROJECT, "dist", "prodgate.cjs");
/** Bump when the shape of the generated history changes, so cached copies are rebuilt. */
const GENERATOR_VERSION = 1;

function options(argv) {
  const opts = { revisions: [1000, 5000, 20000], runs: 7, out: join(PROJECT, "bench", "out", "bzr.json") };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === "--revisions") opts.revisions = value().split(",").map(Number);
    else if (a === "--runs") opts.runs = Number(value());
    else if (a === "--out") opts.out = resolve(value());
    else usage(`unknown argument ${a}`);
  }
  if (opts.revisions.some((n) => !Number.isInteger(n) || n < 8)) usage("--revisions takes sizes of at least 8");
  if (!Number.isInteger(opts.runs) || opts.runs < 1) usage("--runs takes a positive number");
  return opts;
}

function usage(problem) {
  process.stderr.write(`bench:bzr: ${problem}\nusage: node bench/bzr.mjs [--revisions 1000,5000,20000] [--runs N] [--out FILE]\n`);
  process.exit(2);
}

function cleanEnv(home, extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("GIT_") || k.startsWith("PRODGATE_") || k.startsWith("BRZ_") || k === "NODE_OPTIONS") continue;
    if (["GL_USERNAME", "GL_USER", "GITEA_PUSHER_NAME", "REMOTE_USER"].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, HOME: home, BRZ_EMAIL: "Bench <bench@example.com>", ...extra };
}

let ENV = {};
/** Where commands run: never inside the project, whose git worktree Breezy would take for a branch. */
let CWD = tmpdir();

function run(cmd, args, opts = {}) {
  const started = process.hrtime.bigint();
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    maxBuffer: 1 << 30,
    env: { ...ENV, ...opts.env },
    cwd: opts.cwd ?? CWD,
    input: opts.input,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0 && !opts.allowFail)
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal ?? r.error?.message}): ${r.stderr || r.stdout}`);
  return { ...r, seconds };
}

// --- the history -------------------------------------------------------------

/** A fast-import stream: mainline revision i is mark i; every fourth merges a side revision made from the one before. */
function stream(n) {
  const parts = [];
  const data = (text) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  const base = 1_600_000_000;
  let side = n;
  for (let i = 1; i <= n; i++) {
    const when = base + i * 60;
    let merge = "";
    if (i > 1 && i % 4 === 0) {
      side++;
      parts.push(
        `commit refs/heads/side\nmark :${side}\ncommitter Lander <lander@example.com> ${when - 30} +0000\n`,
        data(`landing work for r${i}`),
        `from :${i - 1}\nM 100644 inline side/file-${i % 100}.txt\n${data(`side ${i}\n`)}\n`,
      );
      merge = `merge :${side}\n`;
    }
    const message =
      i % 4 === 0 ? `[r=reviewer] land branch ${i}` : i % 10 === 0 ? `r${i}: a test fix [testfix]` : `r${i}: one small change`;
    parts.push(
      `commit refs/heads/devel\nmark :${i}\ncommitter Dev <dev@example.com> ${when} +0000\n`,
      data(message),
      i > 1 ? `from :${i - 1}\n` : "",
      merge,
      `M 100644 inline src/file-${String(i % 200).padStart(3, "0")}.txt\n${data(`revision ${i}\n`)}\n`,
    );
  }
  return parts.join("");
}

/** The shared repository with devel, stable and production-stable at the same tip, cached by size. */
function history(n) {
  const dir = join(PROJECT, "bench", "out", "cache", `bzr-v${GENERATOR_VERSION}-${n}`);
  if (existsSync(dir)) return dir;
  // Built outside the project: Breezy would take the project's git worktree for the repository it sits in.
  const build = mkdtempSync(join(tmpdir(), "prodgate-bzr-history-"));
  try {
    const tmp = join(build, "repo");
    const file = join(build, "history.fi");
    writeFileSync(file, stream(n));
    process.stderr.write(`building a ${n}-revision history with brz fast-import ...\n`);
    const t = run("brz", ["fast-import", "--quiet", file, tmp], { cwd: build });
    process.stderr.write(`  built in ${t.seconds.toFixed(1)} s\n`);
    run("brz", ["remove-tree", "--force", join(tmp, "devel")], { allowFail: true });
    for (const b of ["stable", "production-stable"]) run("brz", ["branch", "--quiet", "--no-tree", join(tmp, "devel"), join(tmp, b)]);
    mkdirSync(dirname(dir), { recursive: true });
    cpSync(tmp, `${dir}.tmp`, { recursive: true });
    renameSync(`${dir}.tmp`, dir);
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
  return dir;
}

// --- servers -----------------------------------------------------------------

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function listening(port, child) {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const up = await new Promise((ok) => {
      const s = createConnection({ port, host: "127.0.0.1" }, () => {
        s.end();
        ok(true);
      });
      s.once("error", () => ok(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listened on ${port}`);
}

function stop(child) {
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    // already gone
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// --- one size ----------------------------------------------------------------

async function measure(n, runs) {
  const cached = history(n);
  const work = mkdtempSync(join(tmpdir(), `prodgate-bench-bzr-${n}-`));
  const servers = [];
  try {
    const home = join(work, "home");
    mkdirSync(home);
    ENV = cleanEnv(home);
    CWD = work;
    const plainDir = join(work, "plain");
    const gatedDir = join(work, "gated");
    cpSync(cached, plainDir, { recursive: true });
    cpSync(cached, gatedDir, { recursive: true });
    const install = run("bash", [join(PROJECT, "install.sh"), "--bzr", gatedDir]).seconds;
    run(process.execPath, [MAIN, "--repo", gatedDir, "role", "add", "qa", "quinn"]);

    const [plainPort, gatedPort] = [await freePort(), await freePort()];
    const plain = spawn("brz", ["serve", "--allow-writes", "--listen=127.0.0.1", `--port=${plainPort}`, `--directory=${plainDir}`], {
      env: ENV,
      detached: true,
      stdio: "ignore",
    });
    servers.push(plain);
    const gated = spawn(process.execPath, [MAIN, "--repo", gatedDir, "serve-bzr", "--port", String(gatedPort)], {
      env: ENV,
      detached: true,
      stdio: "ignore",
    });
    servers.push(gated);
    await listening(plainPort, plain);
    await listening(gatedPort, gated);

    const client = join(work, "client");
    run("brz", ["branch", "--quiet", join(cached, "devel"), client]);
    const url = (port, b) => `bzr://127.0.0.1:${port}/${b}`;
    const times = { plainDevel: [], gatedDevel: [], plainStable: [], gatedStable: [], status: [], qaOk: [] };
    for (let i = 0; i <= runs; i++) {
      writeFileSync(join(client, `bench-${i % 3}.txt`), `round ${i}\n`);
      run("brz", ["add", "--quiet"], { cwd: client });
      run("brz", ["commit", "--quiet", "-m", `bench round ${i}`], { cwd: client });
      const revno = Number(run("brz", ["revno"], { cwd: client }).stdout.trim());
      const push = (port, b) => run("brz", ["push", "--quiet", "-d", client, url(port, b)]).seconds;
      const round = {
        plainDevel: push(plainPort, "devel"),
        gatedDevel: push(gatedPort, "devel"),
        plainStable: push(plainPort, "stable"),
        gatedStable: push(gatedPort, "stable"),
        status: run(process.execPath, [MAIN, "--repo", gatedDir, "status", "--json"]).seconds,
        qaOk: run(process.execPath, [MAIN, "--repo", gatedDir, "qa", "ok", `r${revno}`], { env: { GL_USER: "quinn" } }).seconds,
      };
      const prod = run("brz", ["revno", join(gatedDir, "production-stable")]).stdout.trim();
      if (Number(prod) !== revno) throw new Error(`qa ok r${revno} did not move production-stable (it is at r${prod})`);
      // The first round warms the caches of both servers and is not counted.
      if (i > 0) for (const [k, v] of Object.entries(round)) times[k].push(v);
    }
    const result = { revisions: n, install };
    for (const [k, v] of Object.entries(times)) result[k] = median(v);
    return result;
  } finally {
    for (const s of servers) stop(s);
    CWD = tmpdir();
    rmSync(work, { recursive: true, force: true });
  }
}

const fmt = (s) => `${s.toFixed(2)} s`;

async function main() {
  const opts = options(process.argv.slice(2));
  if (spawnSync("brz", ["version", "--short"]).status !== 0) usage("brz is not installed (apt-get install brz)");
  const load = [loadavg()];
  const results = [];
  for (const n of opts.revisions) {
    const r = await measure(n, opts.runs);
    results.push(r);
    process.stderr.write(
      `${n}: devel ${fmt(r.gatedDevel)} (plain ${fmt(r.plainDevel)}), stable ${fmt(r.gatedStable)} (plain ${fmt(r.plainStable)}), status ${fmt(r.status)}, qa ok ${fmt(r.qaOk)}, install ${fmt(r.install)}\n`,
    );
  }
  load.push(loadavg());
  const lines = [
    `| mainline revisions | push to devel | push to stable | \`status\` | \`qa ok\` (moves production-stable) | \`install.sh --bzr\` |`,
    "| --- | --- | --- | --- | --- | --- |",
    ...results.map(
      (r) =>
        `| ${r.revisions.toLocaleString("en")} | ${fmt(r.gatedDevel)} (plain ${r.plainDevel.toFixed(2)}) | ${fmt(r.gatedStable)} (plain ${r.plainStable.toFixed(2)}) | ${fmt(r.status)} | ${fmt(r.qaOk)} | ${fmt(r.install)} |`,
    ),
  ];
  const loads = load.map((l) => l.map((x) => x.toFixed(2)).join(" "));
  lines.push("", `median of ${opts.runs} rounds; ${cpus().length} cores; load average ${loads[0]} at the start, ${loads[1]} at the end`);
  process.stdout.write(`${lines.join("\n")}\n`);
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify({ at: new Date().toISOString(), runs: opts.runs, load, results }, null, 2)}\n`);
}

await main();
