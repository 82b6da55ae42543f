// dist/hook.cjs runs the hooks' bundle from V8's code cache, kept in the
// repository's prodgate/ directory. A cache is only ever a saving: one made
// from another bundle, damaged or cut short is not used, the push goes on as
// without it, and the hook writes a good one in its place.
import { cpSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clone, PROJECT, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;

beforeEach(() => {
  ({ sb, work } = standardSandbox());
});
afterEach(() => sb.cleanup());

const cacheOf = (hook: string) => join(sb.bare, "prodgate", `code-cache.${hook}`);

/** A governed push that must be refused (the engine ran and judged it). */
function refusedPush(message: string): void {
  const sha = work.commit(message);
  const r = work.push(["origin", `${sha}:refs/heads/production-stable`], "dev");
  expect(r.status, r.output).not.toBe(0);
  expect(r.output).toContain("[unapproved]");
  expect(sb.tip("production-stable")).not.toBe(sha);
}

/** A devel push that lands: both hooks run. */
function develPush(message: string): void {
  work.commit(message);
  const r = work.push(["origin", "HEAD:devel"], "dev");
  expect(r.status, r.output).toBe(0);
}

/** The cache with one byte of it inverted. */
function flipped(good: Buffer, at: number): Buffer {
  const copy = Buffer.from(good);
  copy[at] = copy[at]! ^ 0xff;
  return copy;
}

/** The cache with `length` bytes from `at` zeroed, as a lost disk block leaves it. */
function zeroed(good: Buffer, at: number, length: number): Buffer {
  const copy = Buffer.from(good);
  copy.fill(0, at, Math.min(at + length, copy.length));
  return copy;
}

const firstLine = (path: string) => readFileSync(path).subarray(0, readFileSync(path).indexOf(10)).toString();
/** The first line without the cache's length, which depends on the functions the hook ran. */
const bundleKey = (line: string) => line.replace(/ \d+$/, "");

describe("the hooks' code cache", () => {
  it("is written by each hook once, for this bundle, and then used as it is", () => {
    develPush("r2");
    for (const hook of ["pre-receive", "post-receive"]) {
      const path = cacheOf(hook);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(firstLine(path)).toMatch(/^prodgate-code-cache 2 v\d+\.\d+\.\d+ \w+ \d+ \d+ \d+ \d+ \d+$/);
    }
    const before = readFileSync(cacheOf("pre-receive"));
    const mtime = statSync(cacheOf("pre-receive")).mtimeMs;
    develPush("r3");
    // Accepted by V8: not made again.
    expect(statSync(cacheOf("pre-receive")).mtimeMs).toBe(mtime);
    expect(readFileSync(cacheOf("pre-receive")).equals(before)).toBe(true);
  });

  it("made from another bundle is not used, and a good one takes its place", () => {
    develPush("r2");
    const path = cacheOf("pre-receive");
    const good = readFileSync(path);
    const key = firstLine(path);
    // The same cache, said to be made from a bundle of another size.
    const parts = key.split(" ");
    parts[4] = String(Number(parts[4]) + 1);
    writeFileSync(path, Buffer.concat([Buffer.from(parts.join(" ")), good.subarray(key.length)]));
    refusedPush("r3: not approved");
    expect(bundleKey(firstLine(path))).toBe(bundleKey(key));
  });

  for (const [what, damage] of [
    ["filled with garbage", (good: Buffer, key: string) => Buffer.concat([Buffer.from(`${key}\n`), Buffer.alloc(good.length, 0x5a)])],
    ["cut short", (good: Buffer) => good.subarray(0, Math.floor(good.length / 2))],
    ["empty", () => Buffer.alloc(0)],
    // V8 checks no checksum of a code cache in release builds: a changed byte in the body passed for good.
    ["with the length in its body changed", (good: Buffer, key: string) => flipped(good, key.length + 1 + 16)],
    ["with a block of its body zeroed", (good: Buffer, key: string) => zeroed(good, key.length + 1 + 512, 4096)],
  ] as const) {
    it(`${what} changes nothing but the time: the gate judges as ever and the cache is made again`, () => {
      develPush("r2");
      const path = cacheOf("pre-receive");
      const good = readFileSync(path);
      const key = firstLine(path);
      writeFileSync(path, damage(good, key));
      refusedPush("r3: not approved");
      const now = readFileSync(path);
      expect(bundleKey(firstLine(path))).toBe(bundleKey(key));
      expect(now.length).toBeGreaterThan(key.length + 1000);
      // And it is good: the next push uses it without writing it again.
      const mtime = statSync(path).mtimeMs;
      refusedPush("r4: not approved either");
      expect(statSync(path).mtimeMs).toBe(mtime);
    });
  }

  it("written again, takes away the temporary files of writers killed before they finished, and only those", () => {
    develPush("r2");
    const path = cacheOf("pre-receive");
    // A writer that no longer runs (a pid above any Linux allows), and one that does (this test's own process).
    const dead = `${path}.99999999.tmp`;
    const live = `${path}.${process.pid}.tmp`;
    writeFileSync(dead, "half a cache");
    writeFileSync(live, "being written");
    sb.run("rm", ["-f", path]);
    refusedPush("r3: not approved");
    expect(statSync(path).size).toBeGreaterThan(1000);
    expect(statSync(dead, { throwIfNoEntry: false })).toBeUndefined();
    expect(readFileSync(live, "utf8")).toBe("being written");
  });

  it("that cannot be written never fails a push", () => {
    develPush("r2");
    const path = cacheOf("pre-receive");
    // A directory where the cache would go: neither read nor replaced.
    sb.run("rm", ["-f", path]);
    sb.run("mkdir", [path]);
    refusedPush("r3: not approved");
    develPush("r4");
    expect(statSync(path).isDirectory()).toBe(true);
  });

  it("made while the bundle was upgraded under the hook is never used for the new bundle", () => {
    // The hooks run a copy of the bundles that this test upgrades.
    const proj = join(sb.root, "proj");
    cpSync(join(PROJECT, "dist"), join(proj, "dist"), { recursive: true });
    symlinkSync(join(PROJECT, "node_modules"), join(proj, "node_modules"));
    for (const hook of ["pre-receive", "post-receive"]) {
      const shim = join(sb.bare, "hooks", hook);
      writeFileSync(shim, readFileSync(shim, "utf8").replace(join(PROJECT, "dist", "hook.cjs"), join(proj, "dist", "hook.cjs")));
    }
    const engine = join(proj, "dist", "hook-engine.cjs");
    const old = readFileSync(engine, "utf8");
    // The upgrade: a bundle of the same size that says one thing differently.
    const upgraded = old.replace("not approved by QA", "NOT APPROVED BY QA");
    expect(upgraded).not.toBe(old);
    expect(Buffer.byteLength(upgraded)).toBe(Buffer.byteLength(old));
    writeFileSync(join(proj, "upgraded.cjs"), upgraded);
    // It lands (a new file renamed over the bundle) just after the hook has read the bundle.
    const preload = join(proj, "upgrade-after-read.cjs");
    writeFileSync(
      preload,
      `const fs = require("node:fs");
      const read = fs.readFileSync;
      let done = false;
      fs.readFileSync = function (file, ...rest) {
        const result = read.call(this, file, ...rest);
        const name = typeof file === "number" ? fs.readlinkSync("/proc/self/fd/" + file) : String(file);
        if (!done && name === ${JSON.stringify(engine)}) {
          done = true;
          fs.copyFileSync(${JSON.stringify(join(proj, "upgraded.cjs"))}, ${JSON.stringify(engine)} + ".new");
          fs.renameSync(${JSON.stringify(engine)} + ".new", ${JSON.stringify(engine)});
        }
        return result;
      };`,
    );
    const racing = work.push(["origin", `${work.commit("r2: not approved")}:refs/heads/production-stable`], "dev", {
      NODE_OPTIONS: `--require ${preload}`,
    });
    expect(racing.output).toContain("not approved by QA");
    expect(readFileSync(engine, "utf8")).toBe(upgraded);
    // From now on the hooks run the upgraded bundle, and nothing of the one it replaced.
    for (let i = 3; i <= 4; i++) {
      const r = work.push(["origin", `${work.commit(`r${i}: not approved`)}:refs/heads/production-stable`], "dev");
      expect(r.status, r.output).not.toBe(0);
      expect(r.output).toContain("NOT APPROVED BY QA");
      expect(r.output).not.toContain("not approved by QA");
    }
  });
});
