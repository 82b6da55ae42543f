// install.sh as a user runs it: fresh repository, twice, with an earlier hook, and --uninstall.
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Sandbox } from "../helpers/repo";

let sb: Sandbox;
beforeEach(() => {
  sb = new Sandbox();
});
afterEach(() => sb.cleanup());

function hookFiles() {
  return ["pre-receive", "post-receive"].map((h) => {
    const p = join(sb.bare, "hooks", h);
    return existsSync(p) ? readFileSync(p, "utf8") : null;
  });
}

describe("install.sh", () => {
  it("creates the bare repository, config, database and hooks, then doctor passes", () => {
    const r = sb.install();
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(sb.git(["rev-parse", "--is-bare-repository"], { cwd: sb.bare })).toBe("true");
    expect(sb.git(["config", "prodgate.productionStableBranch"], { cwd: sb.bare })).toBe("production-stable");
    expect(sb.git(["config", "receive.advertisePushOptions"], { cwd: sb.bare })).toBe("true");
    expect(existsSync(join(sb.bare, "prodgate", "state.db"))).toBe(true);
    expect(hookFiles().every((h) => h?.includes("prodgate-hook"))).toBe(true);
    expect(r.stdout).toMatch(/OK\s+database/);
    expect(sb.prodgate(["doctor"]).status).toBe(0);
  });

  it("changes nothing when run again", () => {
    expect(sb.install().status).toBe(0);
    const before = hookFiles();
    const config = sb.git(["config", "--list", "--local"], { cwd: sb.bare });
    const again = sb.install();
    expect(again.status).toBe(0);
    expect(again.stdout).not.toMatch(/^(set|installed|created) /m);
    expect(hookFiles()).toEqual(before);
    expect(sb.git(["config", "--list", "--local"], { cwd: sb.bare })).toBe(config);
  });

  it("keeps an earlier hook, still runs it, and --uninstall restores it", () => {
    sb.git(["init", "--quiet", "--bare", sb.bare]);
    const earlier = join(sb.bare, "hooks", "pre-receive");
    const marker = join(sb.root, "earlier-ran");
    writeFileSync(earlier, `#!/bin/sh\ncat > '${marker}'\necho "earlier hook says hi" >&2\n`);
    chmodSync(earlier, 0o755);
    expect(sb.install().status).toBe(0);
    expect(existsSync(`${earlier}.prodgate-chained`)).toBe(true);

    const work = sb.clone();
    work.commit("first");
    const r = work.push(["origin", "HEAD:refs/heads/feature"], "dev");
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("earlier hook says hi");
    expect(readFileSync(marker, "utf8")).toContain("refs/heads/feature");

    // An earlier hook that refuses still refuses.
    writeFileSync(`${earlier}.prodgate-chained`, "#!/bin/sh\necho 'earlier hook refuses' >&2\nexit 1\n");
    expect(work.push(["origin", "HEAD:refs/heads/other"], "dev").status).not.toBe(0);

    const un = sb.install(["--uninstall"]);
    expect(un.status, un.stderr).toBe(0);
    expect(readFileSync(earlier, "utf8")).toContain("earlier hook refuses");
    expect(existsSync(join(sb.bare, "hooks", "post-receive"))).toBe(false);
  });

  it("honours core.hooksPath", () => {
    sb.git(["init", "--quiet", "--bare", sb.bare]);
    const hooksPath = join(sb.root, "shared-hooks");
    sb.git(["config", "core.hooksPath", hooksPath], { cwd: sb.bare });
    expect(sb.install().status).toBe(0);
    expect(readFileSync(join(hooksPath, "pre-receive"), "utf8")).toContain("prodgate-hook");
    const work = sb.clone();
    work.commit("r1");
    expect(work.push(["origin", "HEAD:production-stable"], "dev").output).toContain("[unapproved]");
  });

  it("records production-stable's tip as the baseline when adopting a repository", () => {
    sb.git(["init", "--quiet", "--bare", sb.bare]);
    const work = sb.clone();
    work.commit("old history");
    work.push(["origin", "HEAD:devel", "HEAD:stable", "HEAD:production-stable"]);
    const tip = work.sha("HEAD");
    expect(sb.install().status).toBe(0);
    expect(sb.json<{ baseline: string }>(["baseline"]).baseline).toBe(tip);
    work.commit("new work");
    work.land();
    const st = sb.json<{ pending: { subject: string }[]; deployable: { sha: string } }>(["status"]);
    expect(st.pending.map((p) => p.subject)).toEqual(["new work"]);
    expect(st.deployable.sha).toBe(tip);
  });

  it("refuses a path that is not a repository, with one line", () => {
    writeFileSync(sb.bare, "not a repo");
    const r = sb.install();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("is not a git repository");
  });
});

describe("doctor", () => {
  it("says what is wrong and exits 1", () => {
    expect(sb.install().status).toBe(0);
    chmodSync(join(sb.bare, "hooks", "pre-receive"), 0o644);
    sb.git(["config", "prodgate.requireCi", "sometimes"], { cwd: sb.bare });
    const r = sb.prodgate(["doctor"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/FAIL\s+config: prodgate.requireCi/);
    expect(r.stdout).toMatch(/FAIL\s+hook pre-receive: .* not executable/);
  });
});
