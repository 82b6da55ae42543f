/** A failure the user can act on: printed as one line, exit with `exitCode`. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 2,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/** git exited with an unexpected status. */
export class GitError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly status: number | null,
    readonly stderr: string,
  ) {
    const firstLine = stderr.trim().split("\n")[0] ?? "";
    super(`git ${args.slice(0, 3).join(" ")} failed (${status ?? "killed"}): ${firstLine}`);
    this.name = "GitError";
  }
}
