// Bazaar at scale: a push costs what it changes. The revision index in the
// state database answers the engine, checked against the tips Breezy states;
// the plugin sends only what a change brings, once, to one engine process;
// admin commands that touch no branch never start Breezy. And the server is
// started and stopped the way an operator expects.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BzrServer, freePort, hasBrz, listening, servedBzr, waitFor, waitForServer } from "../helpers/bzr";
import { MAIN } from "../helpers/repo";

// The engine's node, through a wrapper that records each start and what the plugin sends it.
const NODE_WRAPPER = `#!/bin/sh
echo "start $*" >> "$PRODGATE_TEST_LOG"
tee -a "$PRODGATE_TEST_LOG.in" | exec ${JSON.stringify(process.execPath)} "$@"
`;

interface SessionMessage {
  stage: string;
  snapshot: { revisions: unknown[]; branches: Record<string, string | null> };
  update: { branch: string };
}

describe.skipIf(!hasBrz)("Bazaar at scale (skipped where brz is absent: run .ci/deps-bzr.sh)", () => {
  let s: BzrServer;
  let log: string;
  const landed = (): SessionMessage[] =>
    readFileSync(`${log}.in`, "utf8")
      .split("\n")
      .filter((l) => l.startsWith('{"stage"'))
      .map((l) => JSON.parse(l) as SessionMessage);
  const starts = () => readFileSync(log, "utf8").split("\n").filter(Boolean);
  const status = () => JSON.parse(s.prodgate(["status", "--json"]).stdout) as { branches: Record<string, { revno: number; sha: string }> };

  beforeAll(async () => {
    s = await servedBzr("bzr-scale", (t) => {
      log = join(t.root, "engine.log");
      const wrapper = join(t.root, "node-wrapper");
      writeFileSync(wrapper, NODE_WRAPPER, { mode: 0o755 });
      writeFileSync(log, "");
      writeFileSync(`${log}.in`, "");
      return { PRODGATE_NODE: wrapper, PRODGATE_TEST_LOG: log };
    });
    // A history with landings merged into the mainline, as a patch queue manager makes them.
    for (let i = 1; i <= 6; i++) {
      if (i % 3 === 0) {
        const side = join(s.root, `landing-${i}`);
        expect(s.brz(["branch", "-q", ".", side]).status).toBe(0);
        s.commit(`side-${i}.txt`, `landing ${i} part one`, side);
        s.commit(`side-${i}.txt`, `landing ${i} part two`, side);
        expect(s.brz(["merge", "-q", side]).status).toBe(0);
        expect(s.brz(["commit", "-q", "-m", `[r=rev] land branch ${i}`]).status).toBe(0);
      } else s.commit(`main-${i}.txt`, `mainline ${i}`);
    }
    expect(s.brz(["push", "-q", s.url("devel")]).status).toBe(0);
    expect(s.brz(["push", "-q", s.url("stable")]).status).toBe(0);
  });

  afterAll(() => s?.cleanup());

  it("numbers a history with merged landings as Breezy does, and asks QA about mainline revisions only", () => {
    expect(s.revno("stable")).toBe("6");
    expect(status().branches.stable!.revno).toBe(6);
    const pending = JSON.parse(s.prodgate(["qa", "pending", "--json"]).stdout) as { revno: number; subject: string }[];
    expect(pending.map((p) => p.revno)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(pending.map((p) => p.subject)).toContain("[r=rev] land branch 3");
    expect(pending.some((p) => p.subject.startsWith("landing"))).toBe(false);
  });

  it("starts one engine process per push, sends it only the new revision before the change and no history after it", () => {
    writeFileSync(log, "");
    writeFileSync(`${log}.in`, "");
    s.commit("next.txt", "one more change");
    expect(s.brz(["push", "-q", s.url("devel")]).status).toBe(0);
    expect(starts()).toEqual([expect.stringMatching(/ bzr-hook session$/)]);
    const [pre, post, ...rest] = landed();
    expect(rest).toEqual([]);
    expect([pre!.stage, post!.stage]).toEqual(["pre-change", "post-change"]);
    expect(pre!.snapshot.revisions).toHaveLength(1);
    expect(post!.snapshot.revisions).toEqual([]);
    expect(status().branches.devel!.revno).toBe(7);
  });

  it("never trusts the index over Breezy: a change that bypassed the server is read, and the next push judged on it", () => {
    // An admin's push straight into the served repository, without the plugin: no hook ran.
    const admin = join(s.root, "admin");
    expect(s.brz(["branch", "-q", s.url("devel"), admin], s.root).status).toBe(0);
    s.commit("bypass.txt", "pushed around the server", admin);
    expect(s.brz(["push", "-q", join(s.srv, "devel")], admin).status).toBe(0);
    // The next push through the server finds devel at a tip the index never saw: the engine asks the plugin for it.
    writeFileSync(`${log}.in`, "");
    expect(s.brz(["pull", "-q", s.url("devel")]).status).toBe(0);
    s.commit("late.txt", "based on the admin's r8");
    const r = s.brz(["push", s.url("devel")]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(`${log}.in`, "utf8")).toContain('{"facts":');
    expect(s.revno("devel")).toBe("9");
    expect(status().branches.devel!.revno).toBe(9);
  });

  it("rebuilds an index that disagrees with Breezy instead of answering from it", () => {
    const db = join(`${s.srv}.prodgate`, "state.db");
    const tip = status().branches.devel!.sha;
    const sql = `UPDATE bzr_revisions SET revno = 4242 WHERE id = '${tip.replaceAll("'", "''")}'`;
    const r = s.run("/usr/bin/python3", [
      "-c",
      `import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()`,
      db,
      sql,
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(status().branches.devel!.revno).toBe(9);
  });

  it("runs role, log, security and freeze without starting Breezy; status needs it", () => {
    const noBreezy = { PRODGATE_PYTHON: "/bin/false", GL_USER: "ada" };
    expect(s.prodgate(["role", "add", "admin", "ada"]).status).toBe(0);
    for (const args of [["role", "list"], ["log", "--limit", "3"], ["security"], ["freeze", "--reason", "checks"]]) {
      const r = s.prodgate(args, noBreezy);
      expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(0);
    }
    expect(s.prodgate(["status"], noBreezy).status).not.toBe(0);
    expect(s.prodgate(["thaw"], { GL_USER: "ada" }).status).toBe(0);
  });
});

describe.skipIf(!hasBrz)("starting and stopping serve-bzr (skipped where brz is absent)", () => {
  let s: BzrServer;

  beforeAll(() => {
    s = new BzrServer("bzr-serve");
    s.install();
  });

  afterAll(() => s?.cleanup());

  const start = async (port: number, args: string[] = []) => {
    const server = spawn(process.execPath, [MAIN, "--repo", s.srv, "serve-bzr", "--port", String(port), ...args], {
      env: s.env(),
      stdio: "ignore",
    });
    await waitForServer(port, server);
    return server;
  };

  it("listens on loopback only unless told otherwise", async () => {
    const port = await freePort();
    const server = await start(port);
    try {
      expect(await listening(port, "127.0.0.1")).toBe(true);
      // Listening on every interface would answer on 127.0.0.2 too.
      expect(await listening(port, "127.0.0.2")).toBe(false);
    } finally {
      server.kill("SIGTERM");
    }
  });

  it.each(["SIGTERM", "SIGKILL"] as const)("stops its brz serve with it on %s, so it restarts on the same port", async (signal) => {
    const port = await freePort();
    const first = await start(port);
    first.kill(signal);
    await waitFor("serve-bzr to exit", () => first.exitCode !== null || first.signalCode !== null);
    await waitFor("the port to be free", async () => !(await listening(port)), 200);
    const again = await start(port);
    again.kill("SIGTERM");
    await waitFor("the restarted serve-bzr to exit", () => again.exitCode !== null || again.signalCode !== null);
    if (signal === "SIGTERM") expect(first.exitCode).toBe(0);
  });
});
