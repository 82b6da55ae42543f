// Real repositories for tests: a temporary bare repository with prodgate
// installed the way install.sh installs it, and clones that push to it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const PROJECT = resolve(__dirname, "..", "..");
export const MAIN = join(PROJECT, "dist", "prodgate.cjs");

/** An environment with none of the caller's GIT_* variables and a fixed identity. */
export function cleanEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("GIT_") || k.startsWith("PRODGATE_")) continue;
    if (["GL_USERNAME", "GL_USER", "GITEA_PUSHER_NAME", "REMOTE_USER"].includes(k)) continue;
    env[k] = v;
  }
  Object.assign(env, {
    HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Test Author",
    GIT_AUTHOR_EMAIL: "author@example.com",
    GIT_COMMITTER_NAME: "Test Author",
    GIT_COMMITTER_EMAIL: "author@example.com",
  });
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export class Sandbox {
  readonly root: string;
  readonly home: string;
  readonly bare: string;

  constructor() {
    this.root = mkdtempSync(join(tmpdir(), "prodgate-test-"));
    this.home = join(this.root, "home");
    mkdirSync(this.home);
    this.bare = join(this.root, "server.git");
  }

  env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    return cleanEnv(this.home, extra);
  }

  run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string } = {}): RunResult {
    const r = spawnSync(cmd, args, {
      cwd: opts.cwd ?? this.root,
      env: this.env(opts.env),
      input: opts.input,
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
    });
    return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  git(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string } = {}): string {
    const r = this.run("git", args, opts);
    if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
    return r.stdout.trim();
  }

  /** install.sh on the sandbox's bare repository. */
  install(args: string[] = []): RunResult {
    return this.run("bash", [join(PROJECT, "install.sh"), ...args, this.bare], { env: { PATH: process.env.PATH } });
  }

  /** The admin command, as `user` (GL_USER). */
  prodgate(args: string[], user?: string, env: Record<string, string | undefined> = {}): RunResult {
    return this.run(process.execPath, [MAIN, "--repo", this.bare, ...args], { env: { ...(user ? { GL_USER: user } : {}), ...env } });
  }

  /** Parsed `--json` output of a command that must succeed. */
  json<T = unknown>(args: string[], user?: string): T {
    const r = this.prodgate([...args, "--json"], user);
    if (r.status !== 0) throw new Error(`prodgate ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** A clone of the server with its own identity. */
  clone(name = "work"): Clone {
    const dir = join(this.root, name);
    this.git(["clone", "--quiet", this.bare, dir]);
    return new Clone(this, dir);
  }

  grant(role: string, user: string): void {
    this.git(["config", "--add", `prodgate.roles.${role}`, user], { cwd: this.bare });
  }

  tip(ref: string): string | null {
    const r = this.run("git", ["rev-parse", "--verify", "--quiet", ref], { cwd: this.bare });
    return r.status === 0 ? r.stdout.trim() : null;
  }

  fsck(): RunResult {
    return this.run("git", ["fsck", "--strict", "--no-progress"], { cwd: this.bare });
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

export class Clone {
  constructor(
    readonly sandbox: Sandbox,
    readonly dir: string,
  ) {}

  git(args: string[], env: Record<string, string | undefined> = {}): string {
    return this.sandbox.git(args, { cwd: this.dir, env });
  }

  /** Write files and commit them on the current branch; returns the new sha. */
  commit(message: string, files: Record<string, string> = {}): string {
    const names = Object.keys(files);
    if (names.length === 0) files[`file-${Math.random().toString(36).slice(2)}`] = message;
    for (const [name, content] of Object.entries(files)) {
      const path = join(this.dir, name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
      this.git(["add", "--", name]);
    }
    this.git(["commit", "--quiet", "-m", message]);
    return this.git(["rev-parse", "HEAD"]);
  }

  /** git push as `user`; returns status and the combined output. */
  push(args: string[], user?: string, env: Record<string, string | undefined> = {}): RunResult & { output: string } {
    const r = this.sandbox.run("git", ["push", ...args], { cwd: this.dir, env: { ...(user ? { GL_USER: user } : {}), ...env } });
    return { ...r, output: r.stdout + r.stderr };
  }

  /**
   * Push the current branch to devel, then to stable (two pushes: a stable
   * update is judged against devel as it was before the push).
   */
  land(user = "dev"): void {
    for (const target of ["HEAD:devel", "HEAD:stable"]) {
      const p = this.push(["origin", target], user);
      if (p.status !== 0) throw new Error(`push ${target} failed: ${p.output}`);
    }
  }

  sha(rev: string): string {
    return this.git(["rev-parse", rev]);
  }
}

/**
 * A sandbox with prodgate installed and a clone holding `devel` with one
 * commit pushed to devel and stable. Roles: qa → quinn, security → sam, ci → cid, admin → ada.
 */
export function standardSandbox(): { sb: Sandbox; work: Clone } {
  const sb = new Sandbox();
  const r = sb.install();
  if (r.status !== 0) throw new Error(`install.sh failed: ${r.stdout}${r.stderr}`);
  sb.grant("qa", "quinn");
  sb.grant("security", "sam");
  sb.grant("ci", "cid");
  sb.grant("admin", "ada");
  const work = sb.clone();
  work.git(["checkout", "--quiet", "-b", "devel"]);
  work.commit("r1: initial", { README: "hello\n" });
  work.land();

  return { sb, work };
}
