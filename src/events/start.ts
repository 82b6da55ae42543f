import type * as ChildProcess from "node:child_process";
import { join } from "node:path";
import type { Config } from "../config";
import type { Store } from "../store/store";

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
  } catch {
    // Left queued.
  }
}

/** After a write: start the deliverer when events were written and someone listens. */
export function deliverIfWritten(store: Store, config: Config, location: string, env: NodeJS.ProcessEnv = process.env): void {
  if (store.eventsWritten > 0 && config.events.endpoints.length > 0) startDeliverer(location, env);
}

/** The hook's environment without git's per-push variables (quarantine, object directories, GIT_DIR). */
function delivererEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith("GIT_")) clean[k] = v;
  return clean;
}
