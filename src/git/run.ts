import type * as ChildProcess from "node:child_process";
import { GitError } from "../errors";
import { gitEnv } from "./env";

/**
 * node:child_process, loaded at the first git process: loading it costs a
 * hook about 7 ms, and a push the pre-receive shim already asked git about
 * needs none.
 */
function spawnSync(
  command: string,
  args: readonly string[],
  options: ChildProcess.SpawnSyncOptionsWithStringEncoding,
): ChildProcess.SpawnSyncReturns<string> {
  return (require("node:child_process") as typeof ChildProcess).spawnSync(command, args, options);
}

export interface GitOptions {
  /** Text fed to git's standard input. */
  input?: string;
  /** Exit statuses that are answers rather than failures (e.g. 1 for merge-base --is-ancestor). */
  okStatuses?: readonly number[];
  /** Extra environment on top of the inherited one. */
  env?: Record<string, string>;
}

/**
 * A question that needs the tips of two refs first, asked at the end of a
 * prefetch: the tips are read once in that process and the follow-up asked
 * with those shas, so its answer is kept exactly under `query(a, b)` for the
 * shas really used (b null when the second ref does not exist). `query` must
 * put each sha in an argument of its own; the placeholders it is first
 * called with stand for them.
 */
export interface FollowUp {
  refs: readonly [string, string];
  query: (a: string, b: string | null) => GitQuery;
}

/** A git command, or a pipeline of them (`git a | git b`), as argument lists. */
export type GitQuery = readonly (readonly string[])[];

/**
 * A query as text: each argument ended by \x1f, the commands of a pipeline
 * apart by \x1e. The pre-receive shim writes its questions the same way.
 */
export const queryKey = (q: GitQuery): string => q.map((args) => args.map((a) => `${a}\x1f`).join("")).join("\x1e");

export interface GitResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Processes this program has started to run git, for PRODGATE_TRACE. */
export const gitProcesses = { started: 0 };

/**
 * Runs git as a child process, always in the hardened environment of
 * ./env.ts (replace refs and grafts off, only the repository's own
 * configuration), which otherwise inherits the whole environment: inside
 * pre-receive it carries GIT_DIR and the quarantine variables without which
 * git cannot see the pushed objects. Arguments go to git as argv entries,
 * never through a shell.
 */
export class Git {
  /** Answers fetched ahead by prefetch(), each given out once. */
  private readonly prefetched = new Map<string, GitResult>();

  constructor(readonly cwd: string) {}

  /**
   * Run several read-only git queries in one process (a shell that runs them
   * in turn) and keep their answers for the calls that follow: from Node each
   * process costs several milliseconds more than from a shell, and a hook
   * pays that on every push. Only answers with status 0 or 1 are kept; any
   * other is asked again directly, so its error reads as usual. Meant for
   * questions about objects (which never change), asked once: each answer is
   * given out once. Pipelines are not asked ahead: a shell pipeline's status
   * is its last command's, so a failure of the first would pass for an empty
   * answer.
   */
  prefetch(queries: readonly GitQuery[], follow?: FollowUp): void {
    const unique = [...new Map(queries.map((q) => [queryKey(q), q])).values()].filter(
      (q) => q.length === 1 && !this.prefetched.has(queryKey(q)),
    );
    if (unique.length + (follow ? 1 : 0) < 2) return;
    const token = `prodgate-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const lines = unique.map((q, i) => `git ${q[0]!.map(quote).join(" ")} 2>/dev/null; printf '\\0%s ${i} %d\\0' "$1" $?`);
    if (follow) {
      // The shas of the two refs, read once, then the follow-up asked with them; the shas
      // come back with the answer, which is kept under the query those shas make.
      const [a, b] = follow.refs.map(quote);
      const args = follow.query("@A@", "@B@")[0]!.map((arg) => (arg === "@A@" ? `"$a"` : arg === "@B@" ? `\${b:+"$b"}` : quote(arg)));
      lines.push(
        `a= b=\nwhile read -r n o; do case $n in ${a}) a=$o ;; ${b}) b=$o ;; esac; done <<PRODGATE_TIPS\n` +
          `$(git for-each-ref '--format=%(refname) %(objectname)' -- ${a} ${b} 2>/dev/null)\nPRODGATE_TIPS\n` +
          `if [ -n "$a" ]; then git ${args.join(" ")} 2>/dev/null; printf '\\0%s F %d %s %s\\0' "$1" $? "$a" "$b"; fi`,
      );
    }
    const script = lines.join("\n");
    gitProcesses.started++;
    const result = spawnSync("/bin/sh", ["-c", script, "sh", token], {
      cwd: this.cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 1024 * 1024 * 1024,
      env: gitEnv(),
    });
    if (result.error || result.status !== 0) return;
    let at = 0;
    unique.forEach((q, i) => {
      const marker = `\0${token} ${i} `;
      const end = result.stdout.indexOf(marker, at);
      if (end < 0) return;
      const close = result.stdout.indexOf("\0", end + marker.length);
      const status = Number(result.stdout.slice(end + marker.length, close));
      if (status === 0 || status === 1) this.prefetched.set(queryKey(q), { status, stdout: result.stdout.slice(at, end), stderr: "" });
      at = close + 1;
    });
    if (!follow) return;
    const marker = `\0${token} F `;
    const end = result.stdout.indexOf(marker, at);
    if (end < 0) return;
    const close = result.stdout.indexOf("\0", end + marker.length);
    const [status, a, b] = result.stdout.slice(end + marker.length, close).split(" ");
    const sha = /^[0-9a-f]{40,64}$/;
    if (status !== "0" || !a || !sha.test(a) || (b !== "" && !sha.test(b ?? ""))) return;
    this.prefetched.set(queryKey(follow.query(a, b || null)), { status: 0, stdout: result.stdout.slice(at, end), stderr: "" });
  }

  /** Whether a shim handed this process answers (it asked ahead what the hook needs). */
  preloaded = false;

  /** Answers asked by someone else (the pre-receive shim), keyed by queryKey. */
  preload(answers: ReadonlyMap<string, GitResult>): void {
    for (const [key, answer] of answers) if (answer.status === 0 || answer.status === 1) this.prefetched.set(key, answer);
    if (answers.size > 0) this.preloaded = true;
  }

  /** The prefetched answer to a query, if there is one (given out once). */
  take(query: GitQuery, okStatuses: readonly number[] = []): GitResult | undefined {
    const key = queryKey(query);
    const hit = this.prefetched.get(key);
    if (!hit) return undefined;
    this.prefetched.delete(key);
    return hit.status === 0 || okStatuses.includes(hit.status) ? hit : undefined;
  }

  run(args: readonly string[], opts: GitOptions = {}): GitResult {
    if (opts.input === undefined && !opts.env) {
      const hit = this.take([args], opts.okStatuses);
      if (hit) return hit;
    }
    gitProcesses.started++;
    const result = spawnSync("git", args, {
      cwd: this.cwd,
      input: opts.input,
      encoding: "utf8",
      maxBuffer: 1024 * 1024 * 1024,
      env: gitEnv(opts.env),
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
