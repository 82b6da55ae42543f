import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { readConfigCached, rolesOf } from "../config";
import { isBzrRepository, openBzrEngine } from "../bzr/engine";
import { openEngine, type Engine } from "../engine/state";
import { GitError, UserError } from "../errors";
import { trustSafeDirectories } from "../git/env";
import { Repo } from "../git/repo";
import { databasePath } from "../store/store";
import { identify, identityProblem } from "../identity";
import { jsonSafe, printableLines } from "../policy/message";
import type { Role } from "../policy/types";
import { colourWanted } from "./format";

export interface GlobalOptions {
  repo?: string;
  json?: boolean;
  /** false with --no-color */
  color?: boolean;
}

export interface CommandContext {
  engine: Engine;
  user: string | null;
  roles: Set<Role>;
  /** Why the given user name was refused (whitespace or control characters), when it was. */
  identityProblem?: string | null;
  json: boolean;
  print: (text: string) => void;
  /** Colour on (a terminal, no NO_COLOR, no --no-color). */
  colour: boolean;
  /** The terminal's width for human output; 0 on a pipe (no cutting). */
  width: number;
  /** Text already made printable cell by cell (format.renderTable), written as is. */
  printRendered: (text: string) => void;
}

export function repoDir(opts: GlobalOptions): string {
  return opts.repo ?? process.env.GIT_DIR ?? process.cwd();
}

export function openRepo(opts: GlobalOptions): Repo {
  const dir = repoDir(opts);
  try {
    return Repo.discover(dir);
  } catch (err) {
    if (!(err instanceof GitError && /dubious ownership/.test(err.stderr))) {
      throw new UserError(`${dir} is not a git repository (give --repo <path-to-bare-repo>)`, 2);
    }
    // git refuses a repository another user owns. prodgate's git reads no global or system
    // configuration (a user's own file could turn replace refs or grafts back on), so git's
    // safe.directory is taken from the system configuration alone, and only that key.
    const trusted = systemSafeDirectories();
    if (trusted.length > 0) {
      trustSafeDirectories(trusted);
      try {
        return Repo.discover(dir);
      } catch {
        // Not trusted for this directory: said below.
      }
    }
    const path = /safe\.directory (.+)$/m.exec(err.stderr)?.[1]?.trim() || dir;
    throw new UserError(
      `${dir} belongs to another user: run prodgate as the repository's owner, or, to let every user of this machine run it there, as root: git config --system --add safe.directory ${path}`,
      2,
    );
  }
}

/**
 * safe.directory in the system configuration (the file root writes, or the one
 * GIT_CONFIG_SYSTEM names for whoever runs prodgate), never the global one:
 * empty when GIT_CONFIG_NOSYSTEM says to read no system configuration.
 */
function systemSafeDirectories(): string[] {
  if (process.env.GIT_CONFIG_NOSYSTEM && !/^(0|false|no|off)$/i.test(process.env.GIT_CONFIG_NOSYSTEM)) return [];
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env))
    if (name === "GIT_CONFIG" || name === "GIT_CONFIG_PARAMETERS" || /^GIT_CONFIG_(COUNT|KEY_|VALUE_)/.test(name)) delete env[name];
  // Outside any repository, as git reads safe.directory before it has found one (no includeIf "gitdir:" matches).
  delete env.GIT_DIR;
  // As git reads it: its includes followed, a NUL after each value (a value may hold a newline), an empty value resetting the list.
  const r = spawnSync("git", ["config", "--system", "--includes", "-z", "--get-all", "safe.directory"], {
    encoding: "utf8",
    env,
    cwd: "/",
  });
  if (r.status !== 0) return [];
  const values = r.stdout.split("\0").slice(0, -1);
  return values.slice(values.lastIndexOf("") + 1);
}

/**
 * The repository's owner counts as admin for the admin command: the OS user
 * who owns the git directory, acting as themselves (no identity variable names
 * someone else).
 */
function isOwner(gitDir: string, user: string | null): boolean {
  try {
    return typeof process.getuid === "function" && statSync(gitDir).uid === process.getuid() && user === userInfo().username;
  } catch {
    return false;
  }
}

/**
 * `readOnly`: a command that changes nothing (status, log, qa pending, report,
 * overrides, security) still runs when a prodgate.* value is invalid, so an
 * admin can see what is going on; it says so loudly on stderr, and reads the
 * invalid keys as their defaults. Commands that change anything refuse.
 */
export function commandContext(opts: GlobalOptions, { readOnly = false }: { readOnly?: boolean } = {}): CommandContext {
  const dir = repoDir(opts);
  let engine: Engine;
  if (isBzrRepository(dir)) engine = openBzrEngine(dir);
  else {
    const repo = openRepo(opts);
    notADeveloperClone(repo);
    const read = readConfigCached(repo.git, repo.gitDir);
    if (readOnly && read.errors.length > 0) {
      for (const e of read.errors)
        process.stderr.write(`${printableLines(`prodgate: WARNING: the configuration is invalid: ${e.key}: ${e.message}`)}\n`);
      process.stderr.write(
        "prodgate: WARNING: shown as if those keys had their defaults; every push to a governed ref is refused until it is fixed (git config on the server, then prodgate doctor)\n",
      );
      engine = openEngine(repo, { read: { config: read.config, errors: [] } });
    } else engine = openEngine(repo, { read });
  }
  const user = identify(process.env, engine.config);
  const roles = rolesOf(engine.config, user);
  if (isOwner(engine.repo.gitDir, user)) roles.add("admin");
  return {
    engine,
    user,
    roles,
    identityProblem: identityProblem(process.env, engine.config),
    json: !!opts.json,
    print: (text) => process.stdout.write(`${opts.json ? jsonSafe(text) : printableLines(text)}\n`),
    colour: colourWanted(process.env, !!process.stdout.isTTY, opts.color === false),
    width: process.stdout.isTTY ? (process.stdout.columns ?? 0) : 0,
    printRendered: (text) => pageOrWrite(text),
  };
}

/**
 * A developer's clone has no database: say that prodgate runs on the server's
 * repository, rather than suggest installing server hooks into the clone.
 */
function notADeveloperClone(repo: Repo): void {
  if (existsSync(databasePath(repo.gitDir))) return;
  const bare = repo.git.run(["rev-parse", "--is-bare-repository"], { okStatuses: [128] }).stdout.trim();
  if (bare === "false") {
    throw new UserError(
      `${repo.gitDir} belongs to a working clone, not to the server's repository prodgate guards: give --repo <path-to-the-bare-repository> (on the server)`,
      2,
    );
  }
}

export function requireRole(ctx: CommandContext, allowed: readonly Role[], what: string): string {
  if (!ctx.user && ctx.identityProblem) throw new UserError(`${what} needs a known user, and ${ctx.identityProblem}`, 2);
  if (!ctx.user) throw new UserError(`${what} needs a known user, and none was found (set one of prodgate.identityVars)`, 2);
  if (!allowed.some((r) => ctx.roles.has(r))) {
    throw new UserError(
      `${what} needs the ${allowed.join(" or ")} role; ${ctx.user} has ${[...ctx.roles].join(", ") || "none"} (an admin can run: prodgate role add ${allowed[0]} ${ctx.user})`,
      2,
    );
  }
  return ctx.user;
}

/** Reject option values that could be mistaken for options further down. */
export function plainValue(value: string, what: string): string {
  if (value.startsWith("-")) throw new UserError(`${what} "${value}" may not start with "-"`, 2);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new UserError(`${what} may not hold control characters`, 2);
  return value;
}

/**
 * Output longer than the terminal goes through a pager, as git does:
 * PRODGATE_PAGER, else PAGER, else less (with LESS=FRX unless set); "" or
 * "cat" turns it off. Never on a pipe; if the pager cannot start, the text
 * is written as is.
 */
function pageOrWrite(text: string): void {
  if (!text) return;
  const rows = process.stdout.rows || 24;
  const pager = process.env.PRODGATE_PAGER ?? process.env.PAGER ?? "less";
  if (process.stdout.isTTY && pager !== "" && pager !== "cat" && text.split("\n").length >= rows) {
    const r = spawnSync("/bin/sh", ["-c", pager], {
      input: `${text}\n`,
      stdio: ["pipe", "inherit", "inherit"],
      env: { ...process.env, LESS: process.env.LESS ?? "FRX" },
    });
    if (!r.error && r.status !== 127) return;
  }
  process.stdout.write(`${text}\n`);
}
