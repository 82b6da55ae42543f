// The admin command's Bazaar-only parts: serve-bzr, setup-bzr, and doctor's checks.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { type Check, databaseChecks } from "../cli/commands/doctor";
import { plainValue } from "../cli/context";
import { readConfig } from "../config";
import { UserError } from "../errors";
import { bzrDatabasePath, isBzrRepository, setupBzr } from "./engine";
import { pluginPath, projectDir, readSnapshot } from "./helper";
import { BzrRepo, configPath } from "./repo";

/** The argv of `brz serve` for a repository, with prodgate's plugin to load. */
export function serveArgs(root: string, opts: { listen?: string; port?: string; inet?: boolean }): string[] {
  const args = ["serve", "--allow-writes", `--directory=${root}`];
  if (opts.inet) {
    if (opts.listen || opts.port) throw new UserError("--inet serves one connection on stdin/stdout; it takes no --listen or --port", 2);
    return [...args, "--inet"];
  }
  if (opts.listen !== undefined) args.push(`--listen=${plainValue(opts.listen, "--listen")}`);
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
  if (!existsSync(configPath(root))) throw new UserError(`${root} has no prodgate configuration; run ./install.sh --bzr ${root}`, 2);
  return root;
}

function serve(root: string, opts: { listen?: string; port?: string; inet?: boolean }): number {
  const args = serveArgs(root, opts);
  const plugins = [pluginPath(), process.env.BRZ_PLUGIN_PATH].filter(Boolean).join(":");
  const r = spawnSync("brz", args, {
    stdio: "inherit",
    env: {
      ...process.env,
      BRZ_PLUGIN_PATH: plugins,
      PRODGATE_NODE: process.execPath,
      PRODGATE_MAIN: join(projectDir(), "dist", "prodgate.cjs"),
    },
  });
  if (r.error) throw new UserError(`cannot run brz: ${r.error.message} (install it: apt-get install brz)`, 1);
  return r.status ?? 1;
}

export function registerBzrCommands(program: Command, repo: () => string, setExit: (code: number) => void): void {
  program
    .command("serve-bzr")
    .description("serve the Bazaar repository with prodgate's checks (brz serve --allow-writes, plugin loaded)")
    .option("--listen <addr>", "address to listen on (brz's default: all)")
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
  let repo: BzrRepo | null = null;
  try {
    repo = new BzrRepo(root, readSnapshot(root));
    checks.push({ name: "repository", status: "ok", message: `${root}: ${repo.history.tips.size} branch(es) read with Breezy` });
  } catch (err) {
    checks.push({ name: "repository", status: "fail", message: (err as Error).message });
  }
  if (repo) {
    const { config, errors } = readConfig(repo.git);
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
      if (!repo.history.tips.has(name))
        checks.push({ name: `branch ${name}`, status: "fail", message: `${join(root, name)} is not a branch (brz init it)` });
    }
  }
  checks.push(...databaseChecks(bzrDatabasePath(root), `./install.sh --bzr ${root}`));
  return checks;
}
