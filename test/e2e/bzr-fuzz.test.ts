// A short, seeded run of the Bazaar fuzzer (bzr/fuzz_bzr.py): random client
// operations against a served repository, the gate's invariants checked after
// each step. Longer runs: npm run fuzz:bzr -- --seed N --steps M.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT } from "../helpers/repo";

const hasBrz = spawnSync("brz", ["version", "--short"]).status === 0;

describe.skipIf(!hasBrz)("the Bazaar fuzzer (skipped where brz is absent: run .ci/deps-bzr.sh)", () => {
  it("keeps every invariant for 20 seeded steps", () => {
    const r = spawnSync("/usr/bin/python3", [join(PROJECT, "bzr", "fuzz_bzr.py"), "--seed", "1", "--steps", "20"], {
      encoding: "utf8",
      env: { ...process.env, PRODGATE_NODE: process.execPath },
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("20 steps clean");
  });
});
