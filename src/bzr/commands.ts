// The admin command's Bazaar-only parts: serve-bzr, setup-bzr, and doctor's checks.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { type Check, databaseChecks } from "../cli/commands/doctor";
import { plainValue } from "../cli/context";
import { readConfig } from "../config";
import { UserError } from "../errors";
import { bzrDatabasePath, isBzrRepository, setupBzr } from "./engine";
import { askHelper, pluginPath, projectDir } from "./helper";
import { ConfigFileGit, configPath, legacyStateDir } from "./repo";

/**
 * The argv of brz for serving a repository: the plugin's own serve command, so
 * nothing is served unless the plugin loaded (writes on, file-level verbs off,
 * governed branches jailed; see bzr/prodgate_bzr/serve.py).
 */
export function serveArgs(root: string, opts: { listen?: string; port?: string; inet?: boolean }): string[] {
  const args = ["prodgate-serve", root];
  if (opts.inet) {
    if (opts.listen || opts.port) throw new UserError("--inet serves one connection on stdin/stdout; it takes no --listen or --port", 2);
    return [...args, "--inet"];
  }
  // Loopback unless told otherwise, like `serve`: bzr:// has neither authentication nor encryption.
  args.push(`--listen=${opts.listen !== undefined ? plainValue(opts.listen, "--listen") : "127.0.0.1"}`);
  if (opts.port !== undefined) {
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError(`--port "${opts.port}" is not a port number (1-65535)`, 2);
    args.push(`--port=${port}`);
  }
  return args;
}

function requireBzr(dir: string): string {
  const root = resolve(dir);
  if (!isBzrRepository(root))
    throw new UserError(`${root} is not a Bazaar shared repository (create one with ./install.sh --bzr ${root})`, 2);
  if (existsSync(legacyStateDir(root)))
    throw new UserError(
      `prodgate's state is inside the served tree (${legacyStateDir(root)}); run ./install.sh --bzr ${root} to move it out`,
      2,
    );
  if (!existsSync(configPath(root))) throw new UserError(`${root} has no prodgate configuration; run ./install.sh --bzr ${root}`, 2);
  return realpathSync(root);
}

/** The environment brz serves with: the plugin on its path, the engine to ask, the governed names as read now. */
function serveEnv(governed: string[]): NodeJS.ProcessEnv {
  const plugins = [pluginPath(), process.env.BRZ_PLUGIN_PATH].filter(Boolean).join(":");
  return {
    ...process.env,
    BRZ_PLUGIN_PATH: plugins,
    BRZ_NO_SMART_VFS: "1",
    PRODGATE_BZR_GOVERNED: governed.join("\n"),
    // An admin may name another node (or a wrapper) for the engine; by default the one serving.
    PRODGATE_NODE: process.env.PRODGATE_NODE || process.execPath,
    PRODGATE_MAIN: join(projectDir(), "dist", "prodgate.cjs"),
  };
}

/** Refuse to serve unless the configuration is valid, the database is sound and the plugin loads. */
function preflight(root: string, env: NodeJS.ProcessEnv): void {
  const { errors } = readConfig(new ConfigFileGit(root, configPath(root)));
  if (errors.length > 0) {
    const e = errors[0]!;
    throw new UserError(`not serving: prodgate's configuration is invalid: ${e.key}: ${e.message} (fix ${configPath(root)})`, 1);
  }
  const bad = databaseChecks(bzrDatabasePath(root), `./install.sh --bzr ${root}`).find((c) => c.status === "fail");
  if (bad) throw new UserError(`not serving: ${bad.message}`, 1);
  const probe = spawnSync("brz", ["help", "prodgate-serve"], { env, encoding: "utf8" });
  if (probe.error) throw new UserError(`cannot run brz: ${probe.error.message} (install it: apt-get install brz)`, 1);
  if (probe.status !== 0) {
    const why = env.BRZ_DISABLE_PLUGINS ? ` (BRZ_DISABLE_PLUGINS=${JSON.stringify(env.BRZ_DISABLE_PLUGINS)} is set)` : "";
    throw new UserError(`not serving: prodgate's Breezy plugin did not load${why}; without it nothing would be checked`, 1);
  }
}

function governedNames(root: string): string[] {
  const { config } = readConfig(new ConfigFileGit(root, configPath(root)));
  return [...Object.values(config.branches), ...config.governed.filter((g) => g.startsWith("refs/")).map((g) => `ref:${g}`)];
}

const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

/**
 * Serve until brz exits, and stop brz with us, always: a signal to this
 * process is passed on to it, and brz asks the kernel to stop it when this
 * process dies whatever the way (PRODGATE_SERVE_PARENT: see serve.py), so no
 * brz is left listening on the port.
 */
function serve(root: string, opts: { listen?: string; port?: string; inet?: boolean }): number {
  const args = serveArgs(root, opts);
  const env = { ...serveEnv(governedNames(root)), PRODGATE_SERVE_PARENT: String(process.pid) };
  preflight(root, env);
  const child = spawn("brz", args, { stdio: "inherit", env });
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, forward(signal));
  child.once("error", (err) => {
    process.stderr.write(`prodgate: cannot run brz: ${err.message} (install it: apt-get install brz)\n`);
    process.exitCode = 1;
  });
  child.once("exit", (code, signal) => {
    for (const s of STOP_SIGNALS) process.removeAllListeners(s);
    // Stopped by a signal we passed on: a clean stop. Any other end says what brz said.
    process.exitCode = code ?? (signal && STOP_SIGNALS.includes(signal as (typeof STOP_SIGNALS)[number]) ? 0 : 1);
  });
  return 0;
}

export function registerBzrCommands(program: Command, repo: () => string, setExit: (code: number) => void): void {
  program
    .command("serve-bzr")
    .description("serve the Bazaar repository through prodgate's gate (branch operations only, plugin required)")
    .option("--listen <addr>", "address to listen on (default: 127.0.0.1; see the README before exposing it)")
    .option("--port <n>", "TCP port (brz's default: 4155)")
    .option("--inet", "serve one connection on stdin/stdout (bzr+ssh)")
    .action((opts: { listen?: string; port?: string; inet?: boolean }) => setExit(serve(requireBzr(repo()), opts)));

  program
    .command("setup-bzr", { hidden: true })
    .description("prepare configuration and database for a Bazaar repository (used by install.sh --bzr)")
    .action(() => {
      const root = resolve(repo());
      if (!isBzrRepository(root)) throw new UserError(`${root} is not a Bazaar shared repository`, 2);
      for (const line of setupBzr(root)) process.stdout.write(`${line}\n`);
    });
}

export function bzrDoctorChecks(dir: string): Check[] {
  const root = resolve(dir);
  const checks: Check[] = [];
  const node = Number(process.versions.node.split(".")[0]);
  checks.push(
    node >= 20
      ? { name: "node", status: "ok", message: `Node.js ${process.versions.node}` }
      : { name: "node", status: "fail", message: `Node.js ${process.versions.node}: prodgate needs 20 or newer` },
  );
  const brz = spawnSync("brz", ["version", "--short"], { encoding: "utf8" });
  checks.push(
    brz.status === 0
      ? { name: "brz", status: "ok", message: `Breezy ${brz.stdout.trim()}` }
      : { name: "brz", status: "fail", message: "brz is not on the PATH (apt-get install brz)" },
  );
  checks.push(
    existsSync(join(pluginPath(), "prodgate_bzr", "__init__.py"))
      ? { name: "plugin", status: "ok", message: `${pluginPath()}/prodgate_bzr (serve with prodgate serve-bzr)` }
      : { name: "plugin", status: "fail", message: `the plugin is missing from ${pluginPath()}` },
  );
  if (!existsSync(configPath(root))) {
    checks.push({ name: "config", status: "fail", message: `${configPath(root)} is missing; run ./install.sh --bzr ${root}` });
    return checks;
  }
  if (existsSync(legacyStateDir(root)))
    checks.push({
      name: "state",
      status: "fail",
      message: `${legacyStateDir(root)} is inside the served tree; run ./install.sh --bzr ${root} to move it out`,
    });
  let tips: Set<string> | null = null;
  try {
    // The branches' tips and layout only: doctor reads no history.
    const facts = askHelper(root, { known: [], tipsOnly: true });
    tips = new Set(Object.keys(facts.branches));
    checks.push({ name: "repository", status: "ok", message: `${root}: ${tips.size} branch(es) read with Breezy` });
    for (const [name, why] of Object.entries(facts.layout ?? {}))
      checks.push({
        name: `branch ${name}`,
        status: "fail",
        message: `${join(root, name)}: ${why}; every governed change is refused until it uses the shared repository again (brz reconfigure --use-shared / --unstacked)`,
      });
    // A killed serve-bzr (or brz) leaves its locks on disk: Breezy takes one over only for the same identity.
    for (const lock of facts.locks ?? [])
      checks.push({
        name: "lock",
        status: "fail",
        message: `${lock.path} is locked by a process that no longer runs (${lock.holder}); pushes to it fail with "Could not acquire lock": run brz break-lock --force ${lock.path}`,
      });
  } catch (err) {
    checks.push({ name: "repository", status: "fail", message: (err as Error).message });
  }
  if (tips) {
    const { config, errors } = readConfig(new ConfigFileGit(root, configPath(root)));
    checks.push(
      errors.length === 0
        ? { name: "config", status: "ok", message: `${configPath(root)} is valid` }
        : {
            name: "config",
            status: "fail",
            message: `${errors.map((e) => `${e.key}: ${e.message}`).join("; ")} (fix ${configPath(root)})`,
          },
    );
    for (const name of Object.values(config.branches)) {
      if (!tips.has(name))
        checks.push({ name: `branch ${name}`, status: "fail", message: `${join(root, name)} is not a branch (brz init it)` });
    }
  }
  checks.push(...databaseChecks(bzrDatabasePath(root), `./install.sh --bzr ${root}`));
  return checks;
}
