// The hook shims and the engine keep git config's answer between pushes. A
// copy is used only while the repository's config file is byte for byte the
// one it was read from: a file's time (a config put in place with an older
// time, a clock stepped back) or inode and size say nothing certain.
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
let config: string;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  config = join(sb.bare, "config");
});
afterEach(() => sb.cleanup());

/** A devel push: both hooks read (and keep) the configuration. */
function pushDevel(message: string): string {
  const sha = work.commit(message);
  const r = work.push(["origin", "HEAD:devel"], "dev");
  expect(r.status, r.output).toBe(0);
  return sha;
}

describe("a configuration kept between pushes", () => {
  it("is read again when a config file with an older time renames the production branch", () => {
    pushDevel("r2");
    // The new file, made elsewhere and put in place with a time long past (as a restore or a stepped-back clock would).
    const next = join(sb.root, "config.next");
    copyFileSync(config, next);
    sb.git(["config", "--file", next, "prodgate.productionStableBranch", "live"]);
    expect(sb.run("touch", ["-d", "2001-01-01 00:00:00", next]).status).toBe(0);
    expect(sb.run("mv", [next, config]).status).toBe(0);
    const unapproved = pushDevel("r3: not approved");
    const r = work.push(["origin", `${unapproved}:refs/heads/live`], "dev");
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toContain("[unapproved]");
    expect(sb.tip("live")).toBeNull();
  });

  it("is read again by the engine when the file changes in place with the same size and time", () => {
    sb.git(["config", "prodgate.productionStableBranch", "live-a"], { cwd: sb.bare });
    pushDevel("r2");
    // Same inode, same size, same modification time: only the text differs.
    const reference = join(sb.root, "config.time");
    writeFileSync(reference, "");
    expect(sb.run("touch", ["-r", config, reference]).status).toBe(0);
    const text = readFileSync(config, "utf8");
    expect(text).toContain("live-a");
    writeFileSync(config, text.replace("live-a", "live-b"));
    expect(sb.run("touch", ["-r", reference, config]).status).toBe(0);
    const unapproved = work.commit("r3: not approved");
    // devel starts the engine whatever the shim thinks; live-b is the production branch now.
    const r = work.push(["origin", "HEAD:devel", `${unapproved}:refs/heads/live-b`], "dev");
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toContain("[unapproved]");
    expect(sb.tip("live-b")).toBeNull();
  });
});
