// Processes a test starts and keeps running while it does something else: a
// push held by a git wrapper, a mirror paused before its update-ref.
import { type ChildProcess, spawn } from "node:child_process";
import type { RunResult, Sandbox } from "./repo";

export interface Running {
  child: ChildProcess;
  exited: boolean;
  done: Promise<RunResult>;
}

/** Start `cmd` in the background with the sandbox's clean environment plus `env`. */
export function startIn(sb: Sandbox, cmd: string, args: string[], cwd: string, env: Record<string, string | undefined>): Running {
  const child = spawn(cmd, args, { cwd, env: sb.env(env) });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const running: Running = { child, exited: false, done: Promise.resolve({ status: -1, stdout, stderr }) };
  running.done = new Promise((resolve) =>
    child.on("close", (status) => {
      running.exited = true;
      resolve({ status: status ?? -1, stdout, stderr });
    }),
  );
  return running;
}

/** Resolves once `check` holds; checked whenever the event loop is free (no fixed delay is relied on). */
export async function until(check: () => boolean, what: string, limitMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
