#!/usr/bin/env node
// npm run bench: prodgate's hooks and commands against the same repository
// without hooks, side by side in one run, on generated histories.
//
//   node bench/run.mjs [--quick] [--commits 10000,100000] [--runs N] [--out FILE] [--keep] [--against DIR] [--only CASES]
//
// --only ungoverned,devel,verdict,webhook,promotion,status runs just those cases.
// --quick (or PRODGATE_BENCH_QUICK=1) is a smoke run on a tiny repository.
// --against DIR installs a second build of prodgate (another checkout, built) on a third copy and
// runs it interleaved with this one, so machine load hits both alike: the table then gives the
// median of the paired differences, wall and CPU, this build minus that one.
// Prints a table and writes it as JSON (default bench/out/latest.json).
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generated } from "./generate.mjs";

const PROJECT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MAIN = join(PROJECT, "dist", "prodgate.cjs");
const require = createRequire(import.meta.url);
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : null;

// --- options -----------------------------------------------------------------

function options(argv) {
  const opts = { quick: !!process.env.PRODGATE_BENCH_QUICK, commits: null, runs: null, out: null, keep: false, against: null, only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === "--quick") opts.quick = true;
    else if (a === "--commits") opts.commits = value().split(",").map(Number);
    else if (a === "--runs") opts.runs = Number(value());
    else if (a === "--out") opts.out = resolve(value());
    else if (a === "--keep") opts.keep = true;
    else if (a === "--against") opts.against = resolve(value());
    else if (a === "--only") opts.only = value();
    else usage(`unknown argument ${a}`);
  }
  if (opts.commits?.some((n) => !Number.isInteger(n) || n < 50)) usage("--commits takes sizes of at least 50");
  if (opts.runs !== null && (!Number.isInteger(opts.runs) || opts.runs < 1)) usage("--runs takes a positive number");
  if (opts.against && !existsSync(join(opts.against, "dist", "prodgate.cjs"))) usage(`${opts.against} has no built dist/prodgate.cjs`);
  const CASES = ["ungoverned", "devel", "verdict", "webhook", "promotion", "status"];
  if (opts.only !== null) {
    opts.only = opts.only.split(",");
    if (opts.only.some((c) => !CASES.includes(c))) usage(`--only takes cases among: ${CASES.join(", ")}`);
  }
  opts.commits ??= opts.quick ? [300] : [10_000, 100_000];
  opts.runs ??= opts.quick ? 2 : 15;
  opts.warmup = opts.quick ? 1 : 2;
  opts.out ??= join(PROJECT, "bench", "out", "latest.json");
  return opts;
}

function usage(problem) {
  process.stderr.write(
    `bench: ${problem}\nusage: node bench/run.mjs [--quick] [--commits 10000,100000] [--runs N] [--out FILE] [--keep] [--against DIR] [--only CASES]\n`,
  );
  process.exit(2);
}

// --- processes -----------------------------------------------------------------

/** The caller's environment without GIT_* and identity variables, with a fixed identity. */
function cleanEnv(home, extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("GIT_") || k.startsWith("PRODGATE_") || k === "NODE_OPTIONS") continue;
    if (["GL_USERNAME", "GL_USER", "GITEA_PUSHER_NAME", "REMOTE_USER"].includes(k)) continue;
    env[k] = v;
  }
  return {
    ...env,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Bench",
    GIT_AUTHOR_EMAIL: "bench@example.com",
    GIT_COMMITTER_NAME: "Bench",
    GIT_COMMITTER_EMAIL: "bench@example.com",
    ...extra,
  };
}

let ENV = {};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 30, env: { ...ENV, ...(opts.env ?? {}) }, ...opts.spawn });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  }
  return r;
}

const git = (cwd, args, opts = {}) => run("git", args, { ...opts, spawn: { cwd, input: opts.input } }).stdout.trim();

// CPU time of a command's whole process tree, from bench/cpu.py (wait4's rusage), when python3 is here.
const PYTHON = spawnSync("python3", ["--version"]).status === 0 ? "python3" : null;
const CPU = join(PROJECT, "bench", "cpu.py");
let lastCpuMs = null;

/**
 * Wall time of a command in milliseconds; throws when it fails. Its CPU time (user+sys of every
 * process it started) is left in `lastCpuMs`, or null without python3.
 */
function timed(cmd, args, opts = {}) {
  if (PYTHON) {
    const out = run(PYTHON, [CPU, cmd, ...args], opts).stdout;
    const m = /prodgate-bench-cpu (\S+) (\S+)\s*$/.exec(out);
    if (!m) throw new Error(`bench/cpu.py printed no times for ${cmd} ${args.join(" ")}`);
    lastCpuMs = Number(m[2]);
    return Number(m[1]);
  }
  const start = process.hrtime.bigint();
  run(cmd, args, opts);
  lastCpuMs = null;
  return Number(process.hrtime.bigint() - start) / 1e6;
}

// --- statistics ----------------------------------------------------------------

function quantile(samples, q) {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) return null;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

function stats(samples) {
  return samples.length === 0 ? null : { median: quantile(samples, 0.5), p95: quantile(samples, 0.95), samples };
}

/** This build against the --against build: medians of the per-iteration differences, wall and CPU. */
function paired(samples, cpu) {
  const diffs = (xs) => xs.hooked.map((x, i) => x - xs.against[i]).filter((d) => !Number.isNaN(d));
  return { samples: samples.against, wallMs: quantile(diffs(samples), 0.5), cpuMs: quantile(diffs(cpu), 0.5) };
}

// --- the benchmark of one repository size ----------------------------------------

class Bench {
  constructor(root, n, opts) {
    this.root = root;
    this.n = n;
    this.opts = opts;
    this.gen = generated(join(PROJECT, "bench", "out", "cache"), n);
    this.hooked = join(root, "hooked.git");
    this.plain = join(root, "plain.git");
    // The same repository with the --against build installed, or null.
    this.against = opts.against ? join(root, "against.git") : null;
    this.installed = this.against ? [this.hooked, this.against] : [this.hooked];
    this.client = join(root, "client.git");
    this.memFile = join(root, "hook-memory.txt");
    this.wrapDir = join(root, "memory-hooks");
    // Where production-stable starts: 10,000 commits behind (the promotion case).
    this.promote = Math.min(10_000, Math.floor(n / 2));
    this.walk = Math.min(5_000, Math.floor(n / 4));
    this.base = n - this.promote;
    this.iterations = opts.warmup + opts.runs + 1;
  }

  sha(revno) {
    return this.gen.shaOf(revno);
  }

  prepare() {
    const { gen } = this;
    const tip = this.sha(this.n);
    for (const dir of [...this.installed, this.plain]) {
      cpSync(gen.dir, dir, { recursive: true });
      git(dir, ["update-ref", "refs/heads/stable", tip]);
      git(dir, ["update-ref", "refs/heads/production-stable", this.sha(this.base)]);
    }
    git(this.root, ["clone", "--quiet", "--bare", "--shared", gen.dir, this.client]);
    run("bash", [join(PROJECT, "install.sh"), this.hooked], { env: { PATH: process.env.PATH } });
    if (this.against) run("bash", [join(this.opts.against, "install.sh"), this.against], { env: { PATH: process.env.PATH } });
    for (const [role, user] of [
      ["qa", "quinn"],
      ["security", "sam"],
      ["ci", "cid"],
      ["admin", "ada"],
    ]) {
      for (const dir of this.installed) git(dir, ["config", "--add", `prodgate.roles.${role}`, user]);
    }
    // Hooks wrapped in /usr/bin/time for one extra push per case: the peak RSS of each hook's process tree.
    mkdirSync(this.wrapDir);
    for (const hook of ["pre-receive", "post-receive"]) {
      const real = join(this.hooked, "hooks", hook);
      const text = TIME
        ? `#!/bin/sh\nexec ${TIME} -f '%M ${hook}' -a -o '${this.memFile}' '${real}' "$@"\n`
        : `#!/bin/sh\nexec '${real}' "$@"\n`;
      writeFileSync(join(this.wrapDir, hook), text, { mode: 0o755 });
    }
  }

  /** Runs `fn` on the state database of each installed copy. */
  db(fn) {
    const Database = require("better-sqlite3");
    for (const dir of this.installed) {
      const db = new Database(join(dir, "prodgate", "state.db"), { timeout: 10_000 });
      try {
        fn(db);
      } finally {
        db.close();
      }
    }
  }

  setRef(ref, sha) {
    for (const dir of [...this.installed, this.plain]) git(dir, ["update-ref", ref, sha]);
  }

  /** A new commit on top of `parent` in the client, changing one file. */
  commitOn(parent, i) {
    const index = join(this.root, "bench-index");
    const env = { GIT_INDEX_FILE: index };
    const blob = git(this.client, ["hash-object", "-w", "--stdin"], { input: `bench change ${i}\n` });
    git(this.client, ["read-tree", `${parent}^{tree}`], { env });
    git(this.client, ["update-index", "--add", "--cacheinfo", `100644,${blob},bench/file-${i % 50}.txt`], { env });
    const tree = git(this.client, ["write-tree"], { env });
    return git(this.client, ["commit-tree", tree, "-p", parent, "-m", `bench change ${i}`]);
  }

  /** `git push` from the client; `memory` runs the hooks under /usr/bin/time. */
  push(target, refspec, user, memory = false) {
    const args = ["push", "--quiet"];
    if (memory && target === this.hooked) args.push(`--receive-pack=git -c core.hooksPath='${this.wrapDir}' receive-pack`);
    args.push(target, refspec);
    return timed("git", args, { env: { GL_USER: user }, spawn: { cwd: this.client } });
  }

  readMemory() {
    if (!existsSync(this.memFile)) return null;
    const kb = readFileSync(this.memFile, "utf8")
      .split("\n")
      .map((l) => Number(l.split(" ")[0]))
      .filter((x) => x > 0);
    rmSync(this.memFile);
    return kb.length ? Math.max(...kb) / 1024 : null;
  }

  /**
   * Runs `step(i, side, memory)` for hooked and hookless alternately (which goes
   * first alternates too); the first iterations warm up, the last one measures memory.
   */
  sideBySide(step, withAgainst = !!this.against) {
    const sides = withAgainst ? ["hooked", "against", "plain"] : ["hooked", "plain"];
    const samples = Object.fromEntries(sides.map((side) => [side, []]));
    const cpu = Object.fromEntries(sides.map((side) => [side, []]));
    let peakMb = null;
    for (let i = 0; i < this.iterations; i++) {
      const memory = i === this.iterations - 1;
      const order = i % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const ms = step(i, side, memory);
        if (!memory && i >= this.opts.warmup) {
          samples[side].push(ms);
          if (lastCpuMs !== null) cpu[side].push(lastCpuMs);
        }
      }
      if (memory) peakMb = this.readMemory();
    }
    return {
      hooked: stats(samples.hooked),
      plain: stats(samples.plain),
      peakMb,
      cpu: { hooked: stats(cpu.hooked), plain: stats(cpu.plain) },
      against: withAgainst ? paired(samples, cpu) : null,
    };
  }

  dir(side) {
    return side === "hooked" ? this.hooked : side === "against" ? this.against : this.plain;
  }

  // --- the cases ---------------------------------------------------------------

  ungoverned() {
    const commit = this.commitOn(this.sha(this.n), 0);
    return this.sideBySide((i, side, memory) => {
      const ref = `refs/heads/topic/bench-${i}`;
      const ms = this.push(this.dir(side), `${commit}:${ref}`, "dev", memory);
      git(this.dir(side), ["update-ref", "-d", ref]);
      return ms;
    });
  }

  /** Pushes to devel, then the same commit to stable, with 100 security fixes pending merge-back. */
  develAndStable() {
    this.db((db) => {
      const insert = db.prepare(
        "INSERT INTO fixes (sha, subject, patch_id, promoted_by, promoted_at, push_id) VALUES (?, ?, ?, 'sam', ?, 'bench')",
      );
      const hex = (i, salt) => (salt + String(i)).padStart(40, "0").slice(-40);
      for (let i = 0; i < 100; i++) insert.run(hex(i, "f1"), `security fix ${i}`, hex(i, "a7"), new Date().toISOString());
    });
    // What the engine writes when fixes wait for devel: post-receive runs for devel pushes too.
    for (const dir of this.installed) writeFileSync(join(dir, "prodgate", "fixes-pending"), "bench\n");
    // Everything on stable is in production: each stable push adds one revision to QA.
    this.setRef("refs/heads/production-stable", this.sha(this.n));
    const commits = [];
    let parent = this.sha(this.n);
    for (let i = 0; i < this.iterations; i++) commits.push((parent = this.commitOn(parent, i + 1)));
    const devel = this.sideBySide((i, side, memory) => this.push(this.dir(side), `${commits[i]}:refs/heads/devel`, "dev", memory));
    const stable = this.sideBySide((i, side, memory) => this.push(this.dir(side), `${commits[i]}:refs/heads/stable`, "dev", memory));
    return { devel, stable };
  }

  /** qa/ok tags on the next revision to go out: post-receive records it and the mirror fast-forwards. */
  verdictTag() {
    const first = this.n - this.iterations;
    this.setRef("refs/heads/production-stable", this.sha(first));
    return this.sideBySide((i, side, memory) =>
      this.push(this.dir(side), `${this.sha(first + 1 + i)}:refs/tags/qa/ok/bench-${i}`, "quinn", memory),
    );
  }

  /**
   * The verdict tag push again, into a copy of the repository with a webhook
   * to a port that accepts connections and never answers, against the same
   * push without a webhook: what events cost a push (the deliverer is started
   * detached and waits on the receiver by itself).
   */
  webhookNeverAnswers(port) {
    const first = this.n - 2 * this.iterations;
    const withHook = join(this.root, "webhook.git");
    git(this.hooked, ["update-ref", "refs/heads/production-stable", this.sha(first)]);
    cpSync(this.hooked, withHook, { recursive: true });
    const secret = join(this.root, "webhook.secret");
    writeFileSync(secret, "bench secret\n", { mode: 0o600 });
    git(withHook, ["config", "prodgate.webhook.bench.url", `http://127.0.0.1:${port}/never-answers`]);
    git(withHook, ["config", "prodgate.webhook.bench.secretFile", secret]);
    const result = this.sideBySide(
      (i, side, memory) =>
        this.push(
          side === "hooked" ? withHook : this.hooked,
          `${this.sha(first + 1 + i)}:refs/tags/qa/ok/webhook-bench-${i}`,
          "quinn",
          memory,
        ),
      false, // the same build with and without a webhook
    );
    // The deliverer left waiting on the receiver exits at its next pass, finding no webhook.
    git(withHook, ["config", "--remove-section", "prodgate.webhook.bench"]);
    return result;
  }

  /** A push of 10,000 approved revisions to production-stable; put back after each run. */
  promotion() {
    this.db((db) => {
      const insert = db.prepare("INSERT INTO verdicts (sha, verdict, user, at, note, source) VALUES (?, 'ok', 'quinn', ?, NULL, 'bench')");
      db.transaction(() => {
        for (let r = this.base + 1; r <= this.n; r++) insert.run(this.sha(r), new Date().toISOString());
      })();
    });
    const from = this.sha(this.base);
    this.setRef("refs/heads/production-stable", from);
    return this.sideBySide((i, side, memory) => {
      const ms = this.push(this.dir(side), `${this.sha(this.n)}:refs/heads/production-stable`, "dev", memory);
      git(this.dir(side), ["update-ref", "refs/heads/production-stable", from]);
      return ms;
    });
  }

  /** The walk in-process (bench/probe.ts), then `prodgate status` as a command, with 5,000 revisions pending. */
  walkAndStatus() {
    this.setRef("refs/heads/production-stable", this.sha(this.n - this.walk));
    const probe = join(PROJECT, "bench", "out", "probe.cjs");
    const runs = this.opts.warmup + this.opts.runs;
    const wrap = (args) => (TIME ? [TIME, ["-f", "%M", "-o", this.memFile, ...args]] : [args[0], args.slice(1)]);
    // Timed in one process; the peak memory from a separate process that walks once, as a hook would.
    const out = JSON.parse(run(process.execPath, [probe, this.hooked, String(runs)]).stdout);
    if (out.segment < this.walk) throw new Error(`the walk saw ${out.segment} revisions, expected at least ${this.walk}`);
    const [mCmd, mArgs] = wrap([process.execPath, probe, this.hooked, "1"]);
    const once = JSON.parse(run(mCmd, mArgs).stdout);
    const walk = { hooked: stats(out.times.slice(this.opts.warmup)), plain: null, peakMb: this.readMemory() ?? once.maxRssKb / 1024 };
    const samples = { hooked: [], against: [] };
    const cpu = { hooked: [], against: [] };
    let peakMb = null;
    for (let i = 0; i < runs + 1; i++) {
      const memory = i === runs;
      const [cmd, args] = memory
        ? wrap([process.execPath, MAIN, "--repo", this.hooked, "status", "--json"])
        : [process.execPath, [MAIN, "--repo", this.hooked, "status", "--json"]];
      const ms = timed(cmd, args, { env: { GL_USER: "ada" } });
      if (memory) peakMb = this.readMemory();
      else if (i >= this.opts.warmup) {
        samples.hooked.push(ms);
        if (lastCpuMs !== null) cpu.hooked.push(lastCpuMs);
        if (this.against) {
          const other = join(this.opts.against, "dist", "prodgate.cjs");
          samples.against.push(timed(process.execPath, [other, "--repo", this.against, "status", "--json"], { env: { GL_USER: "ada" } }));
          if (lastCpuMs !== null) cpu.against.push(lastCpuMs);
        }
      }
    }
    const against = this.against ? paired(samples, cpu) : null;
    return {
      walk,
      status: { hooked: stats(samples.hooked), plain: null, peakMb, cpu: { hooked: stats(cpu.hooked), plain: null }, against },
    };
  }

  /** Every case, or those `only` names ("devel" runs the stable push too). */
  all(only) {
    this.prepare();
    const wanted = (c) => !only || only.includes(c);
    const rows = [];
    const row = (key, name, result, target) =>
      rows.push({ key, name, commits: this.n, ...result, ...judge(result, target), target: target.text });
    if (wanted("ungoverned")) row("ungoverned", "push of an ungoverned ref", this.ungoverned(), { ratio: 1.3, text: "≤ 1.3× hookless" });
    if (wanted("devel")) {
      const ds = this.develAndStable();
      row("devel", "push to devel, 100 fixes pending", ds.devel, { added: 150, text: "≤ +150 ms" });
      row("stable", "push to stable, 100 fixes pending", ds.stable, { added: 150, text: "≤ +150 ms" });
    }
    if (wanted("verdict")) row("verdict", "verdict tag push, mirror included", this.verdictTag(), { added: 250, text: "≤ +250 ms" });
    if (wanted("webhook")) this.webhookRow(row);
    if (wanted("promotion"))
      row("promotion", `promotion of ${this.promote} commits to production-stable`, this.promotion(), { total: 1000, text: "< 1 s" });
    if (wanted("status")) {
      const ws = this.walkAndStatus();
      row("walk", `deployable walk over ${this.walk} pending (in-process)`, ws.walk, { total: 200, text: "< 200 ms" });
      row("status", `prodgate status, ${this.walk} pending`, ws.status, { total: 1000, text: "< 1 s" });
    }
    return rows;
  }
}

/** A loopback port that accepts connections and never answers (set in main). */
let NEVER_ANSWERS_PORT = 0;

Bench.prototype.webhookRow = function (row) {
  row("webhook", "verdict tag push, webhook that never answers (vs none)", this.webhookNeverAnswers(NEVER_ANSWERS_PORT), {
    added: 10,
    text: "≤ +10 ms over no webhook",
  });
};

function judge(result, target) {
  const h = result.hooked?.median ?? null;
  const p = result.plain?.median ?? null;
  const ratio = h !== null && p ? h / p : null;
  const added = h !== null && p !== null ? h - p : null;
  let pass = null;
  if (target.ratio !== undefined) pass = ratio !== null && ratio <= target.ratio;
  else if (target.added !== undefined) pass = added !== null && added <= target.added;
  else if (target.total !== undefined) pass = h !== null && h < target.total;
  if (pass !== null && result.peakMb !== null && result.peakMb >= 100) pass = false;
  const ch = result.cpu?.hooked?.median ?? null;
  const cp = result.cpu?.plain?.median ?? null;
  return {
    ratio,
    addedMs: added,
    cpuMs: ch,
    cpuAddedMs: ch !== null && cp !== null ? ch - cp : null,
    vsWallMs: result.against?.wallMs ?? null,
    vsCpuMs: result.against?.cpuMs ?? null,
    pass,
  };
}

// --- output ----------------------------------------------------------------------

const fmt = (x, digits = 0) => (x === null || x === undefined ? "—" : x.toFixed(digits));
const signed = (x) => (x === null || x === undefined ? "—" : `${x >= 0 ? "+" : ""}${x.toFixed(1)}`);

export function table(rows, against = false) {
  const header = [
    "case",
    "commits",
    "median ms",
    "p95 ms",
    "hookless ms",
    "ratio",
    "added ms",
    "CPU ms",
    "CPU added ms",
    "peak MB",
    "target",
    "",
  ];
  if (against) header.splice(10, 0, "vs --against ms", "CPU vs --against ms");
  const lines = rows.map((r) => [
    r.name,
    String(r.commits),
    fmt(r.hooked?.median, 1),
    fmt(r.hooked?.p95, 1),
    fmt(r.plain?.median, 1),
    r.ratio === null ? "—" : `${r.ratio.toFixed(2)}×`,
    fmt(r.addedMs, 1),
    fmt(r.cpuMs, 1),
    fmt(r.cpuAddedMs, 1),
    fmt(r.peakMb, 0),
    ...(against ? [signed(r.vsWallMs), signed(r.vsCpuMs)] : []),
    r.target,
    r.pass === null ? "" : r.pass ? "ok" : "MISSED",
  ]);
  const all = [header, ...lines];
  const widths = header.map((_, c) => Math.max(...all.map((l) => l[c].length)));
  const render = (l) => `| ${l.map((cell, c) => cell.padEnd(widths[c])).join(" | ")} |`;
  return [render(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(render)].join("\n");
}

function buildProbe() {
  const { buildSync } = require("esbuild");
  buildSync({
    entryPoints: [join(PROJECT, "bench", "probe.ts")],
    outfile: join(PROJECT, "bench", "out", "probe.cjs"),
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    external: ["better-sqlite3"],
    logLevel: "warning",
  });
}

function machine() {
  const gitVersion = spawnSync("git", ["--version"], { encoding: "utf8" }).stdout.trim();
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    git: gitVersion,
  };
}

async function main() {
  const opts = options(process.argv.slice(2));
  // The benchmark blocks its event loop while it pushes, so nothing ever reads
  // these connections: the kernel completes each handshake, and no answer comes.
  const neverAnswers = createServer(() => {});
  await new Promise((resolve) => neverAnswers.listen(0, "127.0.0.1", resolve));
  NEVER_ANSWERS_PORT = neverAnswers.address().port;
  if (!existsSync(MAIN)) usage(`${MAIN} is not built; run npm run build (npm run bench does)`);
  buildProbe();
  // Other work on the machine shows in every number: the load average goes in the report.
  const loadBefore = loadavg();
  const rows = [];
  for (const n of opts.commits) {
    const root = mkdtempSync(join(tmpdir(), "prodgate-bench-"));
    mkdirSync(join(root, "home"));
    ENV = cleanEnv(join(root, "home"));
    process.stderr.write(`bench: ${n} commits in ${root}\n`);
    try {
      rows.push(...new Bench(root, n, opts).all(opts.only));
    } finally {
      if (!opts.keep) rmSync(root, { recursive: true, force: true });
    }
  }
  const report = {
    at: new Date().toISOString(),
    machine: { ...machine(), loadBefore, loadAfter: loadavg() },
    against: opts.against,
    runs: opts.runs,
    warmup: opts.warmup,
    rows,
  };
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
  const m = report.machine;
  process.stdout.write(
    `${table(rows, !!opts.against)}\n\n${m.cores} cores, ${m.memoryGb} GB, Node ${m.node}, ${m.git}; ${opts.runs} runs each; load average ${m.loadBefore[0].toFixed(1)} before, ${m.loadAfter[0].toFixed(1)} after; JSON: ${opts.out}\n`,
  );
}

await main();
process.exit(0);
