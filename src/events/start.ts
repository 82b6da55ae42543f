import type * as ChildProcess from "node:child_process";
import { getPriority, setPriority } from "node:os";
import { dirname, join } from "node:path";
import type { Config } from "../config";
import type { Store } from "../store/store";
import { delivererHoldsLock } from "./lock";

/** Deliverers this process has started, for PRODGATE_TRACE. */
export const deliverersStarted = { count: 0 };

/**
 * Start `prodgate deliver` for this repository, detached: its own session,
 * stdio closed, not waited for, so neither git's client nor the command that
 * wrote the events is held by a slow receiver. The deliverer takes a lock,
 * so at most one runs per repository; a second one exits at once. Never
 * throws: events stay queued for the next deliverer or `prodgate sync`.
 */
export function startDeliverer(location: string, env: NodeJS.ProcessEnv = process.env): void {
  try {
    // Both bundles (dist/hook.cjs and dist/prodgate.cjs) live side by side.
    const script = join(__dirname, "prodgate.cjs");
    // Loaded here: a push that writes no event never needs it.
    const { spawn } = require("node:child_process") as typeof ChildProcess;
    const child = spawn(process.execPath, [script, "--repo", location, "deliver"], {
      detached: true,
      stdio: "ignore",
      cwd: location,
      env: delivererEnv(env),
    });
    child.on("error", () => {});
    child.unref();
    deliverersStarted.count++;
    // Delivery can wait for the push: on a busy machine the deliverer's start
    // (Node and the command's bundle) yields the CPU to the push that is still
    // finishing, and to every other push.
    if (child.pid !== undefined) setPriority(child.pid, Math.min(19, getPriority() + DELIVERER_NICENESS));
  } catch {
    // Left queued.
  }
}

/** How much lower than its starter's the deliverer's CPU priority is (nice(1)'s scale, at most 19). */
const DELIVERER_NICENESS = 10;

/** After a write: start the deliverer when events were written and someone listens. */
export function deliverIfWritten(store: Store, config: Config, location: string, env: NodeJS.ProcessEnv = process.env): void {
  if (store.eventsWritten === 0 || config.events.endpoints.length === 0) return;
  // A deliverer already running delivers these events too (they were committed
  // before it was asked about): no second Node process only to find its lock taken.
  try {
    if (delivererHoldsLock(dirname(store.path))) return;
  } catch {
    // Cannot tell: start one, which takes the lock or exits.
  }
  startDeliverer(location, env);
}

/** The hook's environment without git's per-push variables (quarantine, object directories, GIT_DIR). */
function delivererEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith("GIT_")) clean[k] = v;
  return clean;
}
