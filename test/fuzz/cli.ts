// npm run fuzz -- [--seed N] [--steps M] [--keep-going] [--trace] [--shrink-seconds S] [--without m1,m2]
// npm run fuzz -- --concurrent [--seed N] [--rounds R] [--kill-rate P] [--without m1,m2]
// --without turns moves off (land, merge, replace, foxtrot, … see MOVES in
// generator.ts), to look past a known failure.
// Exit status 1 when an invariant broke, after printing the seed, the step,
// the evidence and the shortest reproduction found.
import { describeConcurrentFailure, describeFailure, replay, runConcurrent, runSequential, shrink } from "./runner";

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value)) {
    console.error(`fuzz: --${name} takes a number; e.g. --${name} ${fallback}`);
    process.exit(2);
  }
  return value;
}

function without(): Set<string> {
  const i = process.argv.indexOf("--without");
  return new Set(i < 0 ? [] : (process.argv[i + 1] ?? "").split(","));
}

async function main(): Promise<number> {
  const seed = option("seed", Date.now() % 1_000_000);
  const log = (line: string) => console.log(line);
  if (process.argv.includes("--concurrent")) {
    const rounds = option("rounds", 100);
    console.log(`fuzz --concurrent --seed ${seed} --rounds ${rounds}`);
    const f = await runConcurrent({ seed, rounds, killRate: option("kill-rate", 0.25), without: without(), log });
    if (!f) return (console.log(`ok: ${rounds} rounds clean`), 0);
    console.log(describeConcurrentFailure(f));
    // Does it need the race? Replay everything done so far, one action at a time.
    const inv = f.violations[0]!.inv;
    const actions = f.rounds.flat();
    const seq = replay(seed, actions, 5, inv);
    if (!seq) {
      console.log(`the same actions one at a time do not break (${inv}): it needs the concurrency`);
      return 1;
    }
    const failure = { seed, step: seq.step, moves: 0, violations: seq.violations, actions };
    console.log(`the same actions one at a time break (${inv}) too; shrinking…`);
    console.log(describeFailure(failure, shrink(failure, option("shrink-seconds", 600) * 1000, log)));
    return 1;
  }
  const steps = option("steps", 300);
  console.log(`fuzz --seed ${seed} --steps ${steps}`);
  const failures = runSequential({
    seed,
    steps,
    keepGoing: process.argv.includes("--keep-going"),
    without: without(),
    log,
    trace: process.argv.includes("--trace") ? log : undefined,
  });
  if (failures.length === 0) return (console.log(`ok: ${steps} moves clean`), 0);
  for (const f of failures) console.log(describeFailure(f, null));
  const budget = option("shrink-seconds", 600) * 1000;
  for (const f of failures) {
    console.log(`shrinking the failure of (${f.violations[0]!.inv})…`);
    console.log(describeFailure(f, shrink(f, budget / failures.length, log)));
  }
  return 1;
}

main().then((code) => process.exit(code));
