import { appendFileSync, writeSync } from "node:fs";
import { UserError } from "../errors";
import { deliverersStarted } from "../events/start";
import { gitProcesses } from "../git/run";
import { printableLine } from "../policy/message";
import { readStdin } from "./input";
import { postReceive } from "./post-receive";
import { preReceive } from "./pre-receive";

/**
 * `hook <name>`: runs one git hook with git's input on stdin. With
 * PRODGATE_TRACE=<file> in the hook's environment, each run appends
 * "<hook> <ms>ms git=<n>" (time since Node started, git processes it
 * started), followed by " deliverer" when it started one, to that file.
 */
export function runHook(name: string | undefined): number {
  // Written straight to the descriptor: setting up process.stderr as a stream costs a few ms.
  const io = { stdin: readStdin(), env: process.env, cwd: process.cwd(), write: (l: string) => writeLine(`${printableLine(l)}\n`) };
  let status: number;
  if (name === "pre-receive") status = preReceive(io);
  else if (name === "post-receive") status = postReceive(io);
  else throw new UserError(`unknown hook "${name ?? ""}"`, 2);
  const trace = process.env.PRODGATE_TRACE;
  if (trace) {
    try {
      const deliverer = deliverersStarted.count > 0 ? " deliverer" : "";
      appendFileSync(trace, `${name} ${Math.round(performance.now())}ms git=${gitProcesses.started}${deliverer}\n`);
    } catch {
      // Tracing never changes what a hook does.
    }
  }
  return status;
}

function writeLine(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    // git stopped listening (the client went away): nothing to tell.
  }
}
