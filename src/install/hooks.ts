import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import type { Repo } from "../git/repo";

export const HOOK_NAMES = ["pre-receive", "post-receive"] as const;
export const HOOK_MARKER = "# prodgate-hook";
export const CHAINED_SUFFIX = ".prodgate-chained";

export function hooksDir(repo: Repo): string {
  const p = repo.git.out(["rev-parse", "--git-path", "hooks"]);
  return isAbsolute(p) ? p : resolve(repo.gitDir, p);
}

export function isProdgateHook(path: string): boolean {
  return existsSync(path) && readFileSync(path, "utf8").includes(HOOK_MARKER);
}

/** Render a shim from its template in the project's hooks/ folder. */
export function renderHook(projectDir: string, name: string, nodePath: string): string {
  const template = readFileSync(join(projectDir, "hooks", name), "utf8");
  // The shared part is copied in, so an installed hook needs no other file to let an ungoverned push through.
  const common = readFileSync(join(projectDir, "hooks", "common.sh"), "utf8");
  const main = join(projectDir, "dist", "hook.cjs");
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  // Replacer functions: the shell text holds "$$", which a replacement string would rewrite.
  return template
    .replace("@PRODGATE_COMMON@\n", () => common)
    .replace("@PRODGATE_NODE@", () => quote(nodePath))
    .replace("@PRODGATE_MAIN@", () => quote(main));
}

/** Install both hooks, keeping any earlier hook as <name>.prodgate-chained, which ours still runs. */
export function installHooks(repo: Repo, projectDir: string, nodePath: string): string[] {
  const dir = hooksDir(repo);
  mkdirSync(dir, { recursive: true });
  const done: string[] = [];
  for (const name of HOOK_NAMES) {
    const path = join(dir, name);
    const chained = path + CHAINED_SUFFIX;
    if (existsSync(path) && !isProdgateHook(path) && !existsSync(chained)) {
      renameSync(path, chained);
      done.push(`kept the earlier ${name} as ${chained}; prodgate runs it first`);
    }
    const text = renderHook(projectDir, name, nodePath);
    if (!existsSync(path) || readFileSync(path, "utf8") !== text) {
      writeFileSync(path, text, { mode: 0o755 });
      done.push(`installed ${path}`);
    }
    chmodSync(path, 0o755);
  }
  return done;
}

export function uninstallHooks(repo: Repo): string[] {
  const dir = hooksDir(repo);
  const done: string[] = [];
  for (const name of HOOK_NAMES) {
    const path = join(dir, name);
    const chained = path + CHAINED_SUFFIX;
    if (isProdgateHook(path)) {
      rmSync(path);
      done.push(`removed ${path}`);
    }
    if (existsSync(chained) && !existsSync(path)) {
      renameSync(chained, path);
      done.push(`restored the earlier ${name}`);
    }
  }
  return done;
}
