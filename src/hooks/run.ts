import { appendFileSync } from "node:fs";
import { UserError } from "../errors";
import { readStdin } from "./input";
import { postReceive } from "./post-receive";
import { preReceive } from "./pre-receive";

/**
 * `hook <name>`: runs one git hook with git's input on stdin. With
 * PRODGATE_TRACE=<file> in the hook's environment, each run appends
 * "<hook> <ms>" (time since Node started) to that file.
 */
export function runHook(name: string | undefined): number {
  const io = { stdin: readStdin(), env: process.env, cwd: process.cwd(), write: (l: string) => process.stderr.write(`${l}\n`) };
  let status: number;
  if (name === "pre-receive") status = preReceive(io);
  else if (name === "post-receive") status = postReceive(io);
  else throw new UserError(`unknown hook "${name ?? ""}"`, 2);
  const trace = process.env.PRODGATE_TRACE;
  if (trace) {
    try {
      appendFileSync(trace, `${name} ${Math.round(performance.now())}\n`);
    } catch {
      // Tracing never changes what a hook does.
    }
  }
  return status;
}
