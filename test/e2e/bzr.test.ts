// Bazaar branches served by `prodgate serve-bzr` (brz serve with prodgate's
// plugin), pushed to by a plain brz client that has no plugin.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, MAIN, PROJECT, type RunResult } from "../helpers/repo";

const hasBrz = spawnSync("brz", ["version", "--short"]).status === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, server: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (server.exitCode !== null) throw new Error(`prodgate serve-bzr exited with ${server.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: "127.0.0.1" }, () => {
        socket.end();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`brz serve never listened on port ${port}`);
}

describe.skipIf(!hasBrz)("Bazaar branches through serve-bzr (skipped where brz is absent: run .ci/deps-bzr.sh)", () => {
  let root: string;
  let home: string;
  let srv: string;
  let port: number;
  let server: ChildProcess;
  let url: (branch: string) => string;

  const env = (extra: Record<string, string | undefined> = {}) =>
    cleanEnv(home, { BRZ_EMAIL: "Dev <dev@example.com>", BRZ_PLUGIN_PATH: undefined, ...extra });
  const run = (cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): RunResult => {
    const r = spawnSync(cmd, args, { cwd: opts.cwd ?? root, env: env(opts.env), encoding: "utf8" });
    return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  const prodgate = (args: string[], user?: string) =>
    run(process.execPath, [MAIN, "--repo", srv, ...args], { env: user ? { GL_USER: user } : {} });
  const brz = (args: string[], cwd = join(root, "wt")) => run("brz", args, { cwd });
  const revno = (branch: string) => brz(["revno", url(branch)]).stdout.trim();
  const commit = (file: string, message: string) => {
    writeFileSync(join(root, "wt", file), `${message}\n`);
    brz(["add", "-q", file]);
    const r = brz(["commit", "-q", "-m", message]);
    expect(r.status, r.stderr).toBe(0);
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "prodgate-bzr-"));
    home = join(root, "home");
    mkdirSync(home);
    srv = join(root, "srv");
    const install = run("bash", [join(PROJECT, "install.sh"), "--bzr", srv]);
    expect(install.status, install.stdout + install.stderr).toBe(0);
    expect(prodgate(["role", "add", "qa", "quinn"]).status).toBe(0);
    port = await freePort();
    url = (branch) => `bzr://127.0.0.1:${port}/${branch}`;
    server = spawn(process.execPath, [MAIN, "--repo", srv, "serve-bzr", "--listen", "127.0.0.1", "--port", String(port)], {
      env: env(),
      detached: true,
      stdio: "ignore",
    });
    await waitForPort(port, server);
    expect(run("brz", ["init", "-q", "wt"]).status).toBe(0);
  });

  afterAll(() => {
    if (server?.pid && server.exitCode === null) process.kill(-server.pid, "SIGTERM");
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("refuses an unapproved push to production-stable with the rule and its code", () => {
    commit("a.txt", "first change");
    const r = brz(["push", url("production-stable")]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("Tip change rejected: prodgate: rejected refs/heads/production-stable [unapproved]");
    expect(r.stderr).toContain("1 new commit(s) not approved by QA");
    expect(r.stderr).toContain("what to do:");
    expect(revno("production-stable")).toBe("0");
  });

  it("accepts pushes to devel and stable", () => {
    expect(brz(["push", url("devel")]).status).toBe(0);
    expect(brz(["push", url("stable")]).status).toBe(0);
    expect(revno("devel")).toBe("1");
    expect(revno("stable")).toBe("1");
    const status = JSON.parse(prodgate(["status", "--json"]).stdout);
    expect(status.branches.stable.revno).toBe(1);
    expect(status.pending.map((p: { revno: number; verdict: string }) => [p.revno, p.verdict])).toEqual([[1, "needstesting"]]);
  });

  it("mirrors r1 to production-stable once QA approves it", () => {
    const qa = prodgate(["qa", "ok", "r1"], "quinn");
    expect(qa.status, qa.stderr).toBe(0);
    expect(qa.stdout).toContain("production-stable moved to r1");
    expect(revno("production-stable")).toBe("1");
    const status = JSON.parse(prodgate(["status", "--json"]).stdout);
    expect(status.branches["production-stable"].revno).toBe(1);
    expect(status.mirror.outcome).toBe("moved");
  });

  it("refuses an overwrite of production-stable", () => {
    const other = join(root, "other");
    expect(run("brz", ["init", "-q", other]).status).toBe(0);
    writeFileSync(join(other, "z.txt"), "z\n");
    brz(["add", "-q", "z.txt"], other);
    expect(brz(["commit", "-q", "-m", "unrelated history"], other).status).toBe(0);
    const r = brz(["push", "--overwrite", url("production-stable")], other);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("[non-fast-forward]");
    expect(revno("production-stable")).toBe("1");
    const log = JSON.parse(prodgate(["log", "--json", "--rejected"]).stdout) as { ref: string; reason: string }[];
    expect(log.some((e) => e.ref === "refs/heads/production-stable" && /would lose commits/.test(e.reason))).toBe(true);
  });
});
