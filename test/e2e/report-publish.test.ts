// The deployment report as a file and as a live server, without a browser:
// `prodgate report`, `prodgate.reportPath` after pushes and syncs, `prodgate serve`.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIX_SUBJECT, reportScenario, type ReportScenario, SCRIPT_SUBJECT } from "../helpers/report";
import { type Sandbox, standardSandbox } from "../helpers/repo";
import { startServe } from "../helpers/serve";

const ESCAPED_SUBJECT = "&lt;script&gt;window.__pwned=1&lt;/script&gt;";

let s: ReportScenario;
beforeAll(() => {
  s = reportScenario();
});
afterAll(() => s.sb.cleanup());

describe("prodgate report", () => {
  it("prints one self-contained page showing the state, with commit text escaped", () => {
    const r = s.sb.prodgate(["report"]);
    expect(r.status, r.stderr).toBe(0);
    const html = r.stdout;
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain("FROZEN");
    expect(html).toContain("release day: hold production");
    expect(html).toMatch(/Deployable:<\/strong> <b>r2<\/b>/);
    expect(html).toContain(`<b>r3</b> <code title="${s.pending}">`);
    expect(html).toContain(FIX_SUBJECT);
    expect(html).toContain(ESCAPED_SUBJECT);
    expect(html).not.toContain(SCRIPT_SUBJECT);
    expect(html).not.toMatch(/<script|<link|src=|url\(/i);
  });

  it("writes the page with --out, atomically, leaving no temporary file", () => {
    const dir = join(s.sb.root, "out");
    mkdirSync(dir);
    const r = s.sb.prodgate(["report", "--out", join(dir, "index.html")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`written to ${join(dir, "index.html")}`);
    expect(readdirSync(dir)).toEqual(["index.html"]);
    expect(readFileSync(join(dir, "index.html"), "utf8")).toContain(ESCAPED_SUBJECT);
  });

  it("says in one line when it cannot write --out", () => {
    const r = s.sb.prodgate(["report", "--out", join(s.sb.root, "no-such-dir", "index.html")]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("cannot write the report to");
  });
});

describe("prodgate.reportPath", () => {
  let sb: Sandbox;
  beforeAll(() => {
    ({ sb } = standardSandbox());
  });
  afterAll(() => sb.cleanup());

  it("is rewritten after a push, after verdicts, freeze and thaw, and by sync; a relative path is taken from the repository", () => {
    const www = join(sb.root, "www");
    mkdirSync(www);
    sb.git(["config", "prodgate.reportPath", join(www, "index.html")], { cwd: sb.bare });
    const work = sb.clone("publisher");
    work.git(["checkout", "--quiet", "devel"]);
    const r2 = work.commit("r2: published by the hook");
    work.land();
    const page = () => readFileSync(join(www, "index.html"), "utf8");
    expect(page()).toContain(`<code title="${r2}">`);
    expect(page()).toContain("r2: published by the hook");
    expect(readdirSync(www)).toEqual(["index.html"]);

    // the admin commands that change the page rewrite it too
    expect(sb.prodgate(["freeze", "--reason", "hold"], "ada").status).toBe(0);
    expect(page()).toContain('id="freeze"');
    expect(sb.prodgate(["qa", "ok", "r1", "r2"], "quinn").status).toBe(0);
    expect(page()).toMatch(new RegExp(`data-sha="${r2}"><td data-label="revision">.*<span class="verdict v-ok">ok</span>`));
    expect(sb.prodgate(["thaw"], "ada").status).toBe(0);
    expect(page()).not.toContain('id="freeze"');
    expect(page()).toContain("Every stable revision is in production-stable.");

    // and sync, the cron backstop
    rmSync(join(www, "index.html"));
    const sync = sb.prodgate(["sync"], "ada");
    expect(sync.status, sync.stderr).toBe(0);
    expect(page()).toContain(`<code title="${r2}">`);

    sb.git(["config", "prodgate.reportPath", "report.html"], { cwd: sb.bare });
    expect(sb.prodgate(["sync"], "ada").status).toBe(0);
    expect(readFileSync(join(sb.bare, "report.html"), "utf8")).toContain("Deployment report");
  });

  it("never affects a push when the page cannot be written", () => {
    sb.git(["config", "prodgate.reportPath", join(sb.root, "missing", "index.html")], { cwd: sb.bare });
    const work = sb.clone("unlucky");
    work.git(["checkout", "--quiet", "devel"]);
    const r3 = work.commit("r3: lands anyway");
    const push = work.push(["origin", "HEAD:devel"], "dev");
    expect(push.status, push.output).toBe(0);
    expect(sb.tip("devel")).toBe(r3);
    const lines = push.output.split("\n").filter((l) => l.includes("deployment report was not written"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(join(sb.root, "missing", "index.html"));
    const sync = sb.prodgate(["sync"], "ada");
    expect(sync.status).toBe(0);
    expect(sync.stdout).toContain("deployment report was not written");
    const freeze = sb.prodgate(["freeze", "--reason", "still works"], "ada");
    expect(freeze.status).toBe(0);
    expect(freeze.stderr).toContain("deployment report was not written");
    expect(sb.json<{ freeze: { reason: string } }>(["status"]).freeze.reason).toBe("still works");
  });
});

describe("prodgate serve", () => {
  it("serves the page and /status.json read-only on loopback, and nothing else", async () => {
    const db = join(s.sb.bare, "prodgate", "state.db");
    const dbFiles = () =>
      ["", "-wal"].map((suffix) => (existsSync(db + suffix) ? `${statSync(db + suffix).size}:${statSync(db + suffix).mtimeMs}` : "-"));
    const before = dbFiles();
    const served = await startServe(s.sb);
    try {
      expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await fetch(served.url);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
      const html = await page.text();
      expect(html).toContain(ESCAPED_SUBJECT);
      expect(html).toMatch(/<meta http-equiv="refresh" content="30">/);

      const json = (await (await fetch(`${served.url}status.json`)).json()) as {
        deployable: { revno: number };
        pending: { sha: string }[];
      };
      const cli = s.sb.json<typeof json>(["status"]);
      expect(json.deployable.revno).toBe(2);
      expect(json).toEqual(cli);
      expect(json.pending.map((p) => p.sha)).toEqual([s.pending]);

      for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
        const r = await fetch(served.url, { method, body: method === "DELETE" ? undefined : "x" });
        expect(r.status, method).toBe(405);
        expect(r.headers.get("allow")).toBe("GET, HEAD");
      }
      expect((await fetch(`${served.url}admin`)).status).toBe(404);
      expect((await fetch(`${served.url}../state.db`)).status).toBe(404);
      expect(dbFiles()).toEqual(before);
    } finally {
      await served.stop();
    }
  });

  it("refuses a bad port or address in one line", () => {
    for (const args of [
      ["serve", "--port", "http"],
      ["serve", "--port", "70000"],
      ["serve", "--listen", "-x"],
    ]) {
      const r = s.sb.prodgate(args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
  });
});
