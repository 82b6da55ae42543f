import { shortSha } from "../policy/types";
import { chmodSync, existsSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import type { Repo } from "../git/repo";
import { markFixesPending } from "../engine/mergeback";
import { answersDir } from "../git/answers";
import { ownDir } from "../store/dirs";
import { branchTips, type Engine, openEngine, type Tips } from "../engine/state";
import { databasePath, now, Store } from "../store/store";
import { installHooks, uninstallHooks } from "./hooks";

/** Defaults written on install when the key is absent; an admin's own values are kept. */
const DEFAULT_KEYS: [string, string][] = [
  ["prodgate.develBranch", "devel"],
  ["prodgate.stableBranch", "stable"],
  ["prodgate.productionStableBranch", "production-stable"],
  ["prodgate.productionDevelBranch", "production-devel"],
  ["prodgate.stableWriters", "anyone"],
  ["prodgate.requireCi", "true"],
  ["prodgate.identityFallback", "os"],
  ["prodgate.robot", "prodgate <prodgate@localhost>"],
  // Push options carry the break-glass reason to the hooks.
  ["receive.advertisePushOptions", "true"],
];

/** Everything install.sh does inside the repository. Running it twice changes nothing. */
export function setup(repo: Repo, projectDir: string, nodePath: string): string[] {
  const done: string[] = [];
  for (const [key, value] of DEFAULT_KEYS) {
    if (repo.git.run(["config", "--local", "--get", key], { okStatuses: [1] }).status === 1) {
      repo.git.run(["config", key, value]);
      done.push(`set ${key} = ${value}`);
    }
  }
  const dbPath = databasePath(repo.gitDir);
  const fresh = !existsSync(dbPath);
  Store.open(dbPath, { create: true }).close();
  chmodSync(dbPath, 0o644);
  chmodSync(dirname(dbPath), 0o755);
  ownDir(answersDir(repo.gitDir));
  if (fresh) done.push(`created ${dbPath}`);
  const engine = openEngine(repo);
  try {
    const tips = branchTips(engine);
    done.push(...recordInstallState(engine, tips, fresh));
    markFixesPending(engine);
    engine.store.noteBaseline();
    // Count today's revision numbers once, so pushes count only their own commits.
    for (const tip of Object.values(tips)) if (tip) engine.repo.revno(tip);
    if (writeCommitGraph(repo)) done.push("wrote a commit-graph (git keeps it current when it runs gc)");
  } finally {
    engine.store.close();
  }
  done.push(...installHooks(repo, projectDir, nodePath));
  return done;
}

/**
 * Ancestry questions and revision counts on a long history are many times
 * faster with git's commit-graph; git's own gc keeps it current afterwards.
 */
function writeCommitGraph(repo: Repo): boolean {
  const info = repo.git.out(["rev-parse", "--git-path", "objects/info"]);
  const dir = isAbsolute(info) ? info : join(repo.gitDir, info);
  if (existsSync(join(dir, "commit-graph")) || existsSync(join(dir, "commit-graphs"))) return false;
  if (repo.git.out(["for-each-ref", "--count=1", "--format=%(refname)", "refs/"]) === "") return false;
  return repo.git.run(["commit-graph", "write", "--reachable"], { okStatuses: [1, 128] }).status === 0;
}

export function teardown(repo: Repo): string[] {
  return uninstallHooks(repo);
}

/**
 * What install records once: the baseline (production-stable's tip, on a new
 * database) and where merge-back scans start (today's tips, not the history).
 */
export function recordInstallState(engine: Engine, tips: Tips, fresh: boolean): string[] {
  const done: string[] = [];
  if (fresh && tips.productionStable && !engine.store.getSetting("baseline")) {
    engine.store.setSetting("baseline", tips.productionStable, {
      at: now(),
      user: "install",
      new: tips.productionStable,
      decision: "baseline",
      reason: "baseline recorded at install: the tip of production-stable",
    });
    done.push(`baseline: r${engine.repo.revno(tips.productionStable)} ${shortSha(tips.productionStable)} (production-stable's tip)`);
  }
  for (const b of ["devel", "stable"] as const) {
    if (tips[b] && !engine.store.scanMark(b)) engine.store.setScanMark(b, tips[b]!);
  }
  return done;
}
