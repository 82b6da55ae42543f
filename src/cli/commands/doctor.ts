import { accessSync, constants, type Dirent, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { type Config, readConfig } from "../../config";
import { symrefTarget } from "../../git/symrefs";
import { classifyRef } from "../../policy/refs";
import type { Repo } from "../../git/repo";
import { HOOK_NAMES, hooksDir, isProdgateHook } from "../../install/hooks";
import { SCHEMA_VERSION } from "../../store/schema";
import { nativeBinding } from "../../store/native";
import { databasePath, databaseProblem, Store } from "../../store/store";
import { eventsChecks } from "./doctor-events";

export interface Check {
  name: string;
  status: "ok" | "warn" | "fail";
  message: string;
}

function gitVersionCheck(repo: Repo): Check {
  const problem = repo.versionProblem();
  return problem ? { name: "git", status: "fail", message: problem } : { name: "git", status: "ok", message: repo.git.out(["--version"]) };
}

function writableByOthers(path: string): boolean {
  return (statSync(path).mode & 0o022) !== 0;
}

/** The hooks must be able to take the write lock: a read-only or long-locked database fails every governed push. */
function databaseWritable(dbPath: string): Check {
  const name = "database writable";
  for (const path of [dbPath, dirname(dbPath)]) {
    try {
      accessSync(path, constants.W_OK);
    } catch {
      return { name, status: "fail", message: `${path} is not writable by this user; the user running the hooks needs write access to it` };
    }
  }
  let db: Database.Database | null = null;
  try {
    db = new Database(dbPath, { fileMustExist: true, timeout: 1000, nativeBinding: nativeBinding() });
    db.exec("BEGIN IMMEDIATE");
    db.exec("ROLLBACK");
    return { name, status: "ok", message: "the write lock can be taken" };
  } catch (err) {
    const problem = databaseProblem(err, dbPath, 1000);
    return { name, status: "fail", message: problem?.message ?? `${dbPath}: ${(err as Error).message}` };
  } finally {
    db?.close();
  }
}

export function doctorChecks(repo: Repo): Check[] {
  const checks: Check[] = [gitVersionCheck(repo)];
  const node = Number(process.versions.node.split(".")[0]);
  checks.push(
    node >= 20
      ? { name: "node", status: "ok", message: `Node.js ${process.versions.node}` }
      : { name: "node", status: "fail", message: `Node.js ${process.versions.node}: prodgate needs 20 or newer` },
  );

  const { errors, config: read } = readConfig(repo.git);
  checks.push(
    errors.length === 0
      ? { name: "config", status: "ok", message: "prodgate.* configuration is valid" }
      : { name: "config", status: "fail", message: errors.map((e) => `${e.key}: ${e.message}`).join("; ") + " (fix with git config)" },
  );
  // Checked apart: a bad ticket setting fails doctor but never a push.
  if (read.ticketProblems.length > 0)
    checks.push({
      name: "tickets",
      status: "fail",
      message:
        read.ticketProblems.map((e) => `${e.key}: ${e.message}`).join("; ") +
        " (fix with git config; until then it is left out, and no ticket is found through it)",
    });
  const push = repo.git.run(["config", "--bool", "--get", "receive.advertisePushOptions"], { okStatuses: [1] }).stdout.trim();
  if (push !== "true")
    checks.push({
      name: "push options",
      status: "warn",
      message:
        "receive.advertisePushOptions is off: the break-glass override cannot reach the hooks (git config receive.advertisePushOptions true)",
    });

  const dir = hooksDir(repo);
  // Whoever can write these can replace prodgate's hooks or its database, and with them every rule.
  for (const [what, path] of [
    ["hooks directory", dir],
    ["database directory", dirname(databasePath(repo.gitDir))],
  ] as const) {
    if (existsSync(path) && writableByOthers(path))
      checks.push({ name: `${what} permissions`, status: "warn", message: `${path} is writable by group or others (chmod go-w ${path})` });
  }
  for (const name of HOOK_NAMES) {
    const path = join(dir, name);
    if (!isProdgateHook(path)) {
      checks.push({ name: `hook ${name}`, status: "fail", message: `${path} is not prodgate's hook; run install.sh on this repository` });
      continue;
    }
    try {
      accessSync(path, constants.X_OK);
    } catch {
      checks.push({ name: `hook ${name}`, status: "fail", message: `${path} is not executable (chmod 755 it)` });
      continue;
    }
    const main = /PRODGATE_MAIN='([^']*)'/.exec(readFileSync(path, "utf8"))?.[1];
    if (main && !existsSync(main)) {
      checks.push({ name: `hook ${name}`, status: "fail", message: `${path} runs ${main}, which is missing; run install.sh again` });
      continue;
    }
    checks.push(
      writableByOthers(path)
        ? {
            name: `hook ${name}`,
            status: "warn",
            message: `${path} is writable by group or others: anyone who can write it can bypass prodgate (chmod 755)`,
          }
        : { name: `hook ${name}`, status: "ok", message: path },
    );
  }

  checks.push(...symrefChecks(repo, errors.length === 0 ? readConfig(repo.git).config : null));
  const report = errors.length === 0 ? reportPathCheck(repo, readConfig(repo.git).config.reportPath) : null;
  if (report) checks.push(report);
  checks.push(...databaseChecks(databasePath(repo.gitDir), "install.sh on this repository"));
  checks.push(...eventsChecks(read.events));
  return checks;
}

/**
 * Every symbolic ref of the repository: loose files under refs/ that start
 * with "ref:" (packed-refs cannot hold one). Read from the files rather than
 * asked of for-each-ref, which leaves out one whose target does not exist
 * yet, though a push to it creates the target.
 */
function looseSymrefs(gitDir: string): string[] {
  const found: string[] = [];
  const walk = (rel: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(join(gitDir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const ref = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(ref);
      else if (e.isFile()) {
        try {
          if (readFileSync(join(gitDir, ref), "utf8").startsWith("ref:")) found.push(ref);
        } catch {
          // Unreadable: git cannot follow it either.
        }
      }
    }
  };
  walk("refs");
  return found.sort();
}

/**
 * Symbolic refs that end at a governed ref: a push to one moves the governed
 * ref. The hooks judge such a push as the ref it moves; doctor names them so
 * an admin can remove the ones nobody needs.
 */
function symrefChecks(repo: Repo, config: Config | null): Check[] {
  if (!config) return [];
  const checks: Check[] = [];
  for (const ref of looseSymrefs(repo.gitDir)) {
    const target = symrefTarget(repo.gitDir, ref);
    if (classifyRef(target, config.branches, config.governed).kind === "ungoverned") continue;
    checks.push({
      name: "symbolic refs",
      status: "warn",
      message: `${ref} is a symbolic ref to ${target}, which prodgate governs: a push to it moves ${target} and is judged as that (remove it if nobody needs it: git symbolic-ref --delete ${ref})`,
    });
  }
  return checks;
}

/** The database is there, intact, current, writable by prodgate and by nobody else. */
export function databaseChecks(dbPath: string, reinstall: string): Check[] {
  const checks: Check[] = [];
  if (!existsSync(dbPath)) {
    checks.push({ name: "database", status: "fail", message: `${dbPath} is missing; run ${reinstall}` });
  } else {
    try {
      const store = Store.open(dbPath, { readonly: true });
      try {
        const integrity = store.db.pragma("quick_check", { simple: true });
        checks.push(
          integrity === "ok"
            ? { name: "database", status: "ok", message: `${dbPath} (schema ${SCHEMA_VERSION})` }
            : { name: "database", status: "fail", message: `${dbPath} is damaged (${String(integrity)}); restore it from a backup` },
        );
      } finally {
        store.close();
      }
    } catch (err) {
      checks.push({
        name: "database",
        status: "fail",
        message: `${(err as Error).message}; restore it from a backup or move it aside and run ${reinstall}`,
      });
    }
    checks.push(databaseWritable(dbPath));
    if (writableByOthers(dbPath))
      checks.push({
        name: "database permissions",
        status: "warn",
        message: `${dbPath} is writable by group or others: anyone could rewrite verdicts (chmod 644)`,
      });
  }
  return checks;
}

/** prodgate.reportPath's folder must exist and be writable, or every push fails to publish the page. */
function reportPathCheck(repo: Repo, reportPath: string | null): Check | null {
  if (!reportPath) return null;
  const path = isAbsolute(reportPath) ? reportPath : resolve(repo.gitDir, reportPath);
  const dir = dirname(path);
  try {
    if (!statSync(dir).isDirectory())
      return { name: "report", status: "fail", message: `${dir} (from prodgate.reportPath) is not a folder` };
    accessSync(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      name: "report",
      status: "fail",
      message:
        code === "ENOENT"
          ? `the folder ${dir} of prodgate.reportPath does not exist: create it (mkdir -p ${dir}) or change prodgate.reportPath`
          : `the folder ${dir} of prodgate.reportPath cannot be written (${code ?? "error"}): fix its permissions`,
    };
  }
  return { name: "report", status: "ok", message: `the report is published at ${path}` };
}
