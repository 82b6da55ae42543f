import { UserError } from "./errors";
import { printableLine } from "./policy/message";

/**
 * Failures of the machine rather than of prodgate, as one line saying what
 * happened and what to do; null for anything else.
 */
export function knownFailure(err: unknown): UserError | null {
  if (err instanceof UserError) return err;
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== "string") return null;
  if (code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL") {
    return new UserError(
      "the disk holding the repository is full (or over quota), so prodgate could not write; free space there and run it again (what failed was not recorded)",
      1,
    );
  }
  if (code === "EROFS") return new UserError("the repository is on a read-only file system; prodgate needs to write there", 1);
  if (code.startsWith("SQLITE_IOERR")) {
    return new UserError(`a disk read or write failed (${code}); check the disk and the system log, then run it again`, 1);
  }
  return null;
}

/** What a failure says in one line: a known failure's message, else an internal error. */
export function describeFailure(err: unknown): string {
  return knownFailure(err)?.message ?? `internal error: ${(err as Error)?.message ?? String(err)}`;
}

/** A reader that went away (`prodgate log | head -1`): nothing more to say, and no error. */
function closedOutput(err: unknown): boolean {
  return (err as { code?: unknown })?.code === "EPIPE";
}

/**
 * The exit status when the reader of the output goes away: 0 (nothing more to
 * say), except for a check whose answer is not yet known to be good, which
 * must never pass for one that succeeded (see closedOutputStatus).
 */
let statusOnClosedOutput = 0;
export function closedOutputStatus(status: number): void {
  statusOnClosedOutput = status;
}

let watching = false;
/**
 * Exit quietly when the reader of stdout or stderr closes it, instead of
 * dying with a stack trace. For the admin command: the hooks write to the
 * descriptor directly (setting up the streams costs them a few ms).
 */
export function exitQuietlyWhenOutputCloses(): void {
  if (watching) return;
  watching = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err) => {
      if (closedOutput(err)) process.exit(statusOnClosedOutput);
      throw err;
    });
  }
}

/** The one error boundary: known failures print one line; anything else is a bug to report. */
export function withBoundary(run: () => number): number {
  try {
    const status = run();
    // A reader that goes away after a command said no must not turn the no into a yes.
    if (status !== 0) statusOnClosedOutput = status;
    return status;
  } catch (err) {
    if (closedOutput(err)) return statusOnClosedOutput;
    const known = knownFailure(err);
    if (known) {
      process.stderr.write(`${printableLine(`prodgate: ${known.message}`)}\n`);
      return known.exitCode;
    }
    const e = err as Error;
    process.stderr.write(`${printableLine(`prodgate: internal error: ${e?.message ?? String(err)}`)}\n`);
    if (process.env.PRODGATE_DEBUG) process.stderr.write(`${e?.stack ?? ""}\n`);
    else process.stderr.write("prodgate: this is a bug; run again with PRODGATE_DEBUG=1 and report the output\n");
    return 1;
  }
}
