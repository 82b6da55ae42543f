import { UserError } from "./errors";

/** The one error boundary: known failures print one line; anything else is a bug to report. */
export function withBoundary(run: () => number): number {
  try {
    return run();
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
