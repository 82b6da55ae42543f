// The hooks' own bundle (dist/hook-engine.cjs, which dist/hook.cjs runs for
// the installed shims): it holds only what a push needs, so Node has less to
// read per push.
import { withBoundary } from "./boundary";
import { UserError } from "./errors";
import { runHook } from "./hooks/run";
import { trimOpenLogs } from "./store/store";

const argv = process.argv.slice(2);
const status = withBoundary(() => {
  if (argv[0] !== "hook") throw new UserError("this file only runs git hooks (hook pre-receive|post-receive); use bin/prodgate", 2);
  return runHook(argv[1]);
});
// Everything is written (synchronously) and committed: exit at once. A normal
// exit would close the database, which checkpoints the write-ahead log on
// every push; instead the log is folded in once it is long (trimOpenLogs).
trimOpenLogs();
process.exit(status);
