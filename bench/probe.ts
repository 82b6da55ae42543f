// Times the deployable walk in-process (no Node start): open the engine,
// gather stable's pending mainline segment and its verdicts, walk it.
// Bundled by bench/run.mjs; prints one JSON line.
import { deployState, openEngine } from "../src/engine/state";
import { Repo } from "../src/git/repo";

const [gitDir, runsText] = process.argv.slice(2);
const runs = Number(runsText ?? "5");
const times: number[] = [];
let segment = 0;
let deployable: number | null = null;
for (let i = 0; i < runs; i++) {
  const start = performance.now();
  const engine = openEngine(new Repo(gitDir!));
  const state = deployState(engine);
  engine.store.close();
  times.push(performance.now() - start);
  segment = state.segment.length;
  deployable = state.walk.deployable?.revno ?? null;
}
process.stdout.write(`${JSON.stringify({ times, segment, deployable, maxRssKb: process.resourceUsage().maxRSS })}\n`);
