import { spawnSync } from "node:child_process";
import { GitError } from "../errors";

export interface GitOptions {
  /** Text fed to git's standard input. */
  input?: string;
  /** Exit statuses that are answers rather than failures (e.g. 1 for merge-base --is-ancestor). */
  okStatuses?: readonly number[];
  /** Extra environment on top of the inherited one. */
  env?: Record<string, string>;
}

export interface GitResult {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs git as a child process. The whole environment is inherited on purpose:
 * inside pre-receive it carries GIT_DIR and the quarantine variables
 * (GIT_QUARANTINE_PATH, GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES)
 * without which git cannot see the pushed objects. Arguments go to git as argv
 * entries, never through a shell.
 *
 * Replace refs are switched off for every call: anyone with push access can
 * push refs/replace/<sha>, and a replaced commit would make prodgate judge
 * history that is not the history production-stable would really hold.
 */
export class Git {
  /** Number of git processes started, for benchmarks and tests. */
  calls = 0;

  constructor(readonly cwd: string) {}

  run(args: readonly string[], opts: GitOptions = {}): GitResult {
    this.calls++;
    const result = spawnSync("git", args, {
      cwd: this.cwd,
      input: opts.input,
      encoding: "utf8",
      maxBuffer: 1024 * 1024 * 1024,
      env: { ...process.env, ...opts.env, GIT_NO_REPLACE_OBJECTS: "1" },
    });
    if (result.error) throw new GitError(args, null, result.error.message);
    const status = result.status ?? -1;
    if (status !== 0 && !(opts.okStatuses ?? []).includes(status)) {
      throw new GitError(args, result.status, result.stderr);
    }
    return { status, stdout: result.stdout, stderr: result.stderr };
  }

  /** stdout of a git command that must succeed, without the final newline. */
  out(args: readonly string[], opts: GitOptions = {}): string {
    return this.run(args, opts).stdout.replace(/\n$/, "");
  }
}
