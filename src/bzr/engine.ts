// Opening a Bazaar shared repository as an Engine, and preparing one (install.sh --bzr).
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { readConfig } from "../config";
import { branchTips, type Engine } from "../engine/state";
import { UserError } from "../errors";
import { recordInstallState } from "../install/setup";
import { Store } from "../store/store";
import { helperSource } from "./helper";
import { type BreezySource, type FactsAnswer, loadHistory, rebuild } from "./index";
import { BzrRepo, configPath, legacyStateDir, stateDir } from "./repo";

/** A Bazaar shared repository: `<dir>/.bzr/repository` without being a branch itself. */
export function isBzrRepository(dir: string): boolean {
  return existsSync(join(dir, ".bzr", "repository")) && !existsSync(join(dir, ".bzr", "branch"));
}

export function bzrDatabasePath(root: string): string {
  return join(stateDir(root), "state.db");
}

/**
 * The engine over a Bazaar repository. History is answered from the revision
 * index in the database, checked against the tips Breezy states at the first
 * question: the plugin's (`told`, inside a hook), else the helper's (one
 * Python process). A command that asks nothing of the history starts no Breezy.
 */
export function openBzrEngine(
  dir: string,
  opts: { told?: FactsAnswer; source?: BreezySource; lockedBranch?: string; create?: boolean; rebuild?: boolean } = {},
): Engine {
  const root = resolve(dir);
  if (!existsSync(configPath(root))) {
    throw new UserError(`${root} is a Bazaar repository without prodgate; run ./install.sh --bzr ${root}`, 2);
  }
  const source = opts.source ?? helperSource(root);
  let told = opts.told ?? null;
  let store: Store | null = null;
  const repo = new BzrRepo(
    root,
    () => {
      // The plugin's facts describe this moment only: a reload asks again.
      const first = told;
      told = null;
      return opts.rebuild ? rebuild(store!, source) : loadHistory(store!, source, first);
    },
    opts.lockedBranch ?? null,
  );
  const { config, errors } = readConfig(repo.git);
  if (errors.length > 0) {
    const e = errors[0]!;
    throw new UserError(
      `prodgate's configuration is invalid: ${e.key}: ${e.message} (fix it in ${configPath(root)}, then run prodgate doctor)`,
      1,
    );
  }
  mkdirSync(join(stateDir(root), "prodgate"), { recursive: true, mode: 0o755 });
  store = Store.open(bzrDatabasePath(root), { create: opts.create });
  try {
    // Endpoints configured since the last run start getting events before this run writes any (as openEngine).
    store.registerEndpoints(config.events.endpoints.map((e) => e.key));
  } catch {
    // A read-only or busy database: registered by the next writer or the deliverer.
  }
  return { repo, config, store };
}

const DEFAULT_CONFIG = `# prodgate's configuration for this Bazaar repository (git-config syntax;
# edit with: GIT_CONFIG=<this file> git config ..., or prodgate role add ...)
[prodgate]
\tdevelBranch = devel
\tstableBranch = stable
\tproductionStableBranch = production-stable
\tproductionDevelBranch = production-devel
\tstableWriters = anyone
\trequireCi = true
\tidentityFallback = os
\trobot = prodgate <prodgate@localhost>
`;

/** Configuration, database and baseline for a shared repository whose branches exist. Running it twice changes nothing. */
export function setupBzr(dir: string): string[] {
  const root = resolve(dir);
  const done: string[] = [];
  // Earlier versions kept the state inside the served tree, where any client could read and write it.
  if (existsSync(legacyStateDir(root)) && !existsSync(stateDir(root))) {
    renameSync(legacyStateDir(root), stateDir(root));
    done.push(`moved ${legacyStateDir(root)} to ${stateDir(root)}, out of the served tree`);
  }
  mkdirSync(stateDir(root), { recursive: true, mode: 0o755 });
  if (!existsSync(configPath(root))) {
    writeFileSync(configPath(root), DEFAULT_CONFIG, { mode: 0o644 });
    done.push(`wrote ${configPath(root)}`);
  }
  const dbPath = bzrDatabasePath(root);
  const fresh = !existsSync(dbPath);
  Store.open(dbPath, { create: true }).close();
  chmodSync(dbPath, 0o644);
  if (fresh) done.push(`created ${dbPath}`);
  // The revision index is filled here, once, from the whole history; pushes then add only what they bring.
  const engine = openBzrEngine(root, { rebuild: true });
  try {
    const tips = branchTips(engine);
    for (const kind of ["devel", "stable", "productionStable", "productionDevel"] as const) {
      const name = engine.config.branches[kind];
      if (!(engine.repo as BzrRepo).history.tips.has(name)) done.push(`warning: branch ${name} is missing (brz init ${join(root, name)})`);
    }
    done.push(...recordInstallState(engine, tips, fresh));
  } finally {
    engine.store.close();
  }
  return done;
}
