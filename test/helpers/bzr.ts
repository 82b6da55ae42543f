// A Bazaar shared repository installed with `install.sh --bzr` and served by a
// real `prodgate serve-bzr`, for the e2e tests that push to it with a plain
// brz client (no plugin on the client side).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { cleanEnv, MAIN, PROJECT, type RunResult } from "./repo";

export const hasBrz = spawnSync("brz", ["version", "--short"]).status === 0;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Does something accept connections on host:port? */
export function listening(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = createConnection({ port, host }, () => {
      socket.end();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function waitFor(what: string, ok: () => boolean | Promise<boolean>, tries = 600): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Wait until `server` listens on `port`; fail at once if it exits first. */
export function waitForServer(port: number, server: ChildProcess): Promise<void> {
  return waitFor(`prodgate serve-bzr on port ${port}`, () => {
    if (server.exitCode !== null) throw new Error(`prodgate serve-bzr exited with ${server.exitCode}`);
    return listening(port);
  });
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
}

export class BzrServer {
  readonly root: string;
  readonly home: string;
  /** The served shared repository. */
  readonly srv: string;
  /** A client branch at <root>/wt, empty at first. */
  readonly wt: string;
  port = 0;
  server: ChildProcess | null = null;

  constructor(prefix: string) {
    this.root = mkdtempSync(join(tmpdir(), `prodgate-${prefix}-`));
    this.home = join(this.root, "home");
    mkdirSync(this.home);
    this.srv = join(this.root, "srv");
    this.wt = join(this.root, "wt");
  }

  /** The environment of every command: a clean home, a brz identity, no plugin on the client side. */
  env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    return cleanEnv(this.home, { BRZ_EMAIL: "Dev <dev@example.com>", BRZ_PLUGIN_PATH: undefined, ...extra });
  }

  run(cmd: string, args: string[], opts: RunOptions = {}): RunResult {
    const r = spawnSync(cmd, args, { cwd: opts.cwd ?? this.root, env: this.env(opts.env), encoding: "utf8", input: opts.input ?? "" });
    return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  prodgate(args: string[], env: Record<string, string | undefined> = {}): RunResult {
    return this.run(process.execPath, [MAIN, "--repo", this.srv, ...args], { env });
  }

  brz(args: string[], cwd = this.wt): RunResult {
    return this.run("brz", args, { cwd });
  }

  url(branch: string): string {
    return `bzr://127.0.0.1:${this.port}/${branch}`;
  }

  revno(branch: string): string {
    return this.brz(["revno", this.url(branch)]).stdout.trim();
  }

  revid(branch: string): string {
    return this.brz(["revision-info", "-d", this.url(branch)])
      .stdout.trim()
      .split(" ")[1]!;
  }

  /** Commit a change of `file` in the branch at `dir` (the client's, by default). */
  commit(file: string, message: string, dir = this.wt): void {
    writeFileSync(join(dir, file), `${message}\n`);
    expect(this.brz(["add", "-q", file], dir).status).toBe(0);
    const r = this.brz(["commit", "-q", "-m", message], dir);
    expect(r.status, r.stderr).toBe(0);
  }

  install(): void {
    const r = this.run("bash", [join(PROJECT, "install.sh"), "--bzr", this.srv]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }

  /** Start `prodgate serve-bzr` on a free loopback port, in a process group of its own. */
  async serve(env: Record<string, string | undefined> = {}): Promise<void> {
    this.port = await freePort();
    this.server = spawn(process.execPath, [MAIN, "--repo", this.srv, "serve-bzr", "--listen", "127.0.0.1", "--port", String(this.port)], {
      env: this.env(env),
      detached: true,
      stdio: "ignore",
    });
    await waitForServer(this.port, this.server);
  }

  stopServing(): void {
    const s = this.server;
    if (s?.pid && s.exitCode === null) process.kill(-s.pid, "SIGTERM");
  }

  cleanup(): void {
    this.stopServing();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Installed, the qa role given to quinn, served, and an empty client branch at <root>/wt. */
export async function servedBzr(
  prefix: string,
  serverEnv: (s: BzrServer) => Record<string, string | undefined> = () => ({}),
): Promise<BzrServer> {
  const s = new BzrServer(prefix);
  s.install();
  expect(s.prodgate(["role", "add", "qa", "quinn"]).status).toBe(0);
  await s.serve(serverEnv(s));
  expect(s.run("brz", ["init", "-q", "wt"]).status).toBe(0);
  return s;
}
