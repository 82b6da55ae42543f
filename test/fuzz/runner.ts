// Runs: a sequential run checks after every action that reached the server;
// a concurrent round fires several actions at once, SIGKILLs some, syncs,
// then checks. A failure is shrunk by replaying fewer actions on a fresh
// repository.
import { type Action, isLocal, render } from "./actions";
import { Generator } from "./generator";
import { INVARIANTS, type Interval, Oracle, type Violation } from "./oracle";
import { Rng } from "./rng";
import { castActors, type Outcome, reproScript, World } from "./world";

export interface Failure {
  seed: number;
  /** Index of the action after which the check failed. */
  step: number;
  violations: Violation[];
  actions: Action[];
}

export interface RunOptions {
  seed: number;
  steps: number;
  /** Go on after a failure, collecting the first failure of each invariant. */
  keepGoing?: boolean;
  /** Print every action, its exit status and the start of its output. */
  trace?: (line: string) => void;
  /** Stop generating after this many ms (the run still ends cleanly). */
  budgetMs?: number;
  boundMs?: number;
  log?: (line: string) => void;
}

const isCi = (world: World, by: string) => world.actors.some((a) => a.name === by && a.roles.includes("ci"));

/**
 * Execute actions one by one, checking after each that reached the server.
 * Returns the failures: the first only, or with keepGoing the first of each invariant.
 */
function execute(
  world: World,
  oracle: Oracle,
  next: (call: number) => Action[] | null,
  opts: { statusEvery: number; keepGoing: boolean; trace?: (line: string) => void },
): { failures: { step: number; violations: Violation[] }[]; actions: Action[] } {
  const actions: Action[] = [];
  const failures: { step: number; violations: Violation[] }[] = [];
  const seen = new Set<string>();
  for (let call = 0, checks = 0; ; call++) {
    const batch = next(call);
    if (!batch) return { failures, actions };
    for (const a of batch) {
      actions.push(a);
      const outcome = world.perform(a);
      opts.trace?.(`${actions.length} ${render(a)} → ${outcome.status}${outcome.output ? `\n    ${outcome.output.trim().split("\n").slice(0, 3).join("\n    ")}` : ""}`);
      if (isLocal(a)) continue;
      const iv: Interval = { ciPushed: "by" in a && isCi(world, a.by), outcomes: [outcome], concurrent: false };
      const violations = oracle.check(iv);
      if (opts.statusEvery > 0 && ++checks % opts.statusEvery === 0) violations.push(...oracle.checkStatus());
      const novel = violations.filter((v) => !seen.has(v.inv));
      if (novel.length === 0) continue;
      for (const v of novel) seen.add(v.inv);
      failures.push({ step: actions.length - 1, violations: novel });
      if (!opts.keepGoing) return { failures, actions };
    }
  }
}

/** A sequential run from a seed; its failures (none when clean). */
export function runSequential(opts: RunOptions): Failure[] {
  const log = opts.log ?? (() => {});
  const rng = new Rng(opts.seed);
  const actors = castActors(opts.seed);
  const world = new World(actors);
  const oracle = new Oracle(world, actors, opts.boundMs);
  const deadline = Date.now() + (opts.budgetMs ?? Infinity);
  try {
    const first = oracle.check({ ciPushed: true, outcomes: [], concurrent: false });
    if (first.length) return [{ seed: opts.seed, step: -1, violations: first, actions: [] }];
    const gen = new Generator(rng, actors);
    let moves = 0;
    const result = execute(
      world,
      oracle,
      () => {
        if (moves >= opts.steps || Date.now() > deadline) return null;
        if (++moves % 25 === 0) log(`seed ${opts.seed}: ${moves} moves`);
        return gen.next(oracle.snapshot(), world.labels());
      },
      { statusEvery: 5, keepGoing: opts.keepGoing ?? false, trace: opts.trace },
    );
    log(`seed ${opts.seed}: ${moves} moves, ${result.actions.length} actions`);
    return result.failures.map((f) => ({ seed: opts.seed, ...f, actions: result.actions }));
  } finally {
    oracle.close();
    world.cleanup();
  }
}

/** Replay a fixed list of actions on a fresh repository; the first violations found, if any. */
export function replay(seed: number, actions: Action[], statusEvery = 5): { step: number; violations: Violation[] } | null {
  const actors = castActors(seed);
  const world = new World(actors);
  const oracle = new Oracle(world, actors);
  try {
    oracle.check({ ciPushed: true, outcomes: [], concurrent: false });
    const r = execute(world, oracle, (call) => (call === 0 ? actions : null), { statusEvery, keepGoing: false });
    return r.failures[0] ?? null;
  } finally {
    oracle.close();
    world.cleanup();
  }
}

/**
 * Delta debugging: drop chunks of actions while the replay still breaks the
 * same invariant, halving the chunk size down to single actions.
 */
export function shrink(failure: Failure, budgetMs: number, log: (line: string) => void = () => {}): Action[] {
  const inv = failure.violations[0]!.inv;
  const statusEvery = failure.violations[0]!.what.startsWith("status ") ? 1 : 5;
  const deadline = Date.now() + budgetMs;
  const fails = (list: Action[]) => replay(failure.seed, list, statusEvery)?.violations.some((v) => v.inv === inv) ?? false;
  let best = failure.actions.slice(0, failure.step + 1);
  for (let chunk = Math.max(1, Math.floor(best.length / 2)); chunk >= 1 && Date.now() < deadline; chunk = Math.floor(chunk / 2)) {
    for (let start = best.length - chunk; start >= 0 && Date.now() < deadline; start -= chunk) {
      const candidate = [...best.slice(0, start), ...best.slice(start + chunk)];
      if (fails(candidate)) {
        best = candidate;
        log(`shrunk to ${best.length} actions`);
      }
    }
    if (chunk === 1) break;
  }
  return best;
}

export function describeFailure(f: Failure, shortest: Action[] | null): string {
  const lines = [
    `FAILED seed ${f.seed} at action ${f.step + 1}: ${f.step >= 0 ? render(f.actions[f.step]!) : "(initial state)"}`,
    ...f.violations.map((v) => `  (${v.inv}) ${INVARIANTS[v.inv]}: ${v.what}`),
  ];
  const actors = castActors(f.seed);
  lines.push(`  actors: ${actors.map((a) => `${a.name}=${a.roles.join("+") || "none"}`).join(" ")}`);
  if (shortest) {
    lines.push(`shortest sequence (${shortest.length} actions), as a script to paste in the project's folder after npm run build:`);
    lines.push(reproScript(actors, shortest));
    lines.push(`# then: (${f.violations[0]!.inv}) ${f.violations[0]!.what}`);
  }
  return lines.join("\n");
}

// --- concurrent mode ----------------------------------------------------------

export interface ConcurrentOptions {
  seed: number;
  rounds: number;
  budgetMs?: number;
  /** Actions fired at once per round. */
  width?: number;
  /** Probability that an action's process group is SIGKILLed. */
  killRate?: number;
  boundMs?: number;
  log?: (line: string) => void;
}

export interface ConcurrentFailure {
  seed: number;
  round: number;
  violations: Violation[];
  /** Everything done so far, round by round, for a sequential replay. */
  rounds: Action[][];
  outcomes: Outcome[];
}

/** Rounds of simultaneous actions with random SIGKILLs, each followed by `prodgate sync` and the check. */
export async function runConcurrent(opts: ConcurrentOptions): Promise<ConcurrentFailure | null> {
  const log = opts.log ?? (() => {});
  const rng = new Rng(opts.seed);
  const actors = castActors(opts.seed);
  const world = new World(actors);
  const oracle = new Oracle(world, actors, opts.boundMs);
  const gen = new Generator(rng, actors);
  const deadline = Date.now() + (opts.budgetMs ?? Infinity);
  const rounds: Action[][] = [];
  const admin = actors.find((a) => a.roles.includes("admin"))!.name;
  try {
    oracle.check({ ciPushed: true, outcomes: [], concurrent: false });
    for (let round = 0; round < opts.rounds && Date.now() < deadline; round++) {
      const actions: Action[] = [];
      for (let i = rng.int(2, opts.width ?? 4); i > 0; i--) actions.push(...gen.next(oracle.snapshot(), world.labels()));
      rounds.push(actions);
      for (const a of actions.filter(isLocal)) world.perform(a);
      const fired = actions.filter((a) => !isLocal(a));
      const outcomes = await Promise.all(
        fired.map((a) => world.start(a, rng.chance(opts.killRate ?? 0.25) ? rng.int(20, 900) : null)),
      );
      const sync = world.perform({ k: "pg", by: admin, args: ["sync"] });
      const ciPushed = fired.some((a) => "by" in a && isCi(world, a.by));
      const violations = oracle.check({ ciPushed, outcomes: [...outcomes, sync], concurrent: true });
      if ((round + 1) % 10 === 0) log(`seed ${opts.seed}: ${round + 1} rounds, ${outcomes.filter((o) => o.killed).length} killed in the last`);
      if (violations.length > 0) return { seed: opts.seed, round, violations, rounds, outcomes };
    }
    return null;
  } finally {
    oracle.close();
    world.cleanup();
  }
}

export function describeConcurrentFailure(f: ConcurrentFailure): string {
  const last = f.rounds[f.round]!;
  return [
    `FAILED concurrent seed ${f.seed} in round ${f.round + 1}:`,
    ...f.violations.map((v) => `  (${v.inv}) ${INVARIANTS[v.inv]}: ${v.what}`),
    "  the round's actions, fired at once (local ones first), then prodgate sync:",
    ...last.map((a) => `    ${render(a)}`),
    ...f.outcomes.map((o, i) => `    #${i + 1} exit ${o.status} in ${o.ms} ms${o.killed ? " (SIGKILLed)" : ""}`),
  ].join("\n");
}
