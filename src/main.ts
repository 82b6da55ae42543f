import { withBoundary } from "./boundary";
import { readStdin } from "./hooks/input";

function main(argv: string[]): number {
  if (argv[0] === "hook") return require("./hooks/run").runHook(argv[1]);
  if (argv[0] === "bzr-hook") return require("./bzr/hook").bzrHook(argv[1], process.env, readStdin);
  // The hooks never need the command line parser (commander) or the commands: load them only here.
  return require("./cli/program").runProgram(argv);
}

process.exitCode = withBoundary(() => main(process.argv.slice(2)));
