import { runProgram } from "./cli/program";
import { UserError } from "./errors";
import { readStdin } from "./hooks/input";

/** The one error boundary: known failures print one line; anything else is a bug to report. */
function main(argv: string[]): number {
  try {
    if (argv[0] === "hook") {
      const io = { stdin: readStdin(), env: process.env, cwd: process.cwd(), write: (l: string) => process.stderr.write(`${l}\n`) };
      if (argv[1] === "pre-receive") return require("./hooks/pre-receive").preReceive(io);
      if (argv[1] === "post-receive") return require("./hooks/post-receive").postReceive(io);
      throw new UserError(`unknown hook "${argv[1] ?? ""}"`, 2);
    }
    if (argv[0] === "bzr-hook") return require("./bzr/hook").bzrHook(argv[1], readStdin(), process.env);
    return runProgram(argv);
  } catch (err) {
    if (err instanceof UserError) {
      process.stderr.write(`prodgate: ${err.message}\n`);
      return err.exitCode;
    }
    const e = err as Error;
    process.stderr.write(`prodgate: internal error: ${e?.message ?? String(err)}\n`);
    if (process.env.PRODGATE_DEBUG) process.stderr.write(`${e?.stack ?? ""}\n`);
    else process.stderr.write("prodgate: this is a bug; run again with PRODGATE_DEBUG=1 and report the output\n");
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
