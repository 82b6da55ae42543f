// The invariant fuzzer, briefly: a seeded sequential run and a few concurrent
// rounds with SIGKILLs, against a real repository with the real hooks. Long
// runs: npm run fuzz -- --seed N --steps M, and npm run fuzz -- --concurrent.
import { describe, expect, it } from "vitest";
import { describeConcurrentFailure, describeFailure, runConcurrent, runSequential } from "./fuzz/runner";

const SEED = 20261129;

describe("invariant fuzzer", () => {
  it("a seeded sequential run breaks no invariant", () => {
    const failures = runSequential({ seed: SEED, steps: 400, budgetMs: 75_000, keepGoing: true });
    expect(failures.map((f) => describeFailure(f, null)).join("\n")).toBe("");
  }, 240_000);

  it("concurrent rounds with random SIGKILLs, then sync, break no invariant", async () => {
    const failure = await runConcurrent({ seed: SEED, rounds: 200, budgetMs: 50_000 });
    expect(failure ? describeConcurrentFailure(failure) : "").toBe("");
  }, 240_000);
});
