import { resolve } from "node:path";
import { UserError } from "../../errors";
import { type Engine, openEngine } from "../../engine/state";
import type { Repo } from "../../git/repo";
import { writeFileAtomic } from "../../files";
import { publishReport, reportHtml } from "../../report/publish";
import { openReadOnlyEngine, startReportServer } from "../../report/serve";
import { printableLine } from "../../policy/message";
import { type CommandContext, plainValue } from "../context";

export function reportCommand(ctx: CommandContext, opts: { out?: string }): number {
  const html = reportHtml(ctx.engine);
  if (opts.out === undefined) {
    process.stdout.write(html);
    return 0;
  }
  const out = resolve(plainValue(opts.out, "--out"));
  try {
    writeFileAtomic(out, html);
  } catch (err) {
    throw new UserError(`cannot write the report to ${out}: ${(err as Error).message}`, 1);
  }
  if (!ctx.json) process.stderr.write(`prodgate: deployment report written to ${out}\n`);
  else ctx.print(JSON.stringify({ out }));
  return 0;
}

function wholeNumber(value: string, what: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < min || n > max)
    throw new UserError(`${what} takes a whole number from ${min} to ${max}, not "${value}"`, 2);
  return n;
}

/** Runs until interrupted; returns at once with 0 while the server keeps the process alive. */
export function serveCommand(gitDir: string, opts: { listen?: string; port?: string; refresh?: string }): number {
  const host = plainValue(opts.listen ?? "127.0.0.1", "--listen");
  const port = wholeNumber(opts.port ?? "8080", "--port", 0, 65535);
  const refreshSeconds = wholeNumber(opts.refresh ?? "30", "--refresh", 1, 86400);
  // Fail now, with one line, if the repository or its database cannot be read.
  const engine = openReadOnlyEngine(gitDir);
  const repoPath = engine.repo.gitDir;
  engine.store.close();
  startReportServer(
    { gitDir: repoPath, host, port, refreshSeconds },
    (url) => process.stdout.write(`prodgate: serving the deployment report of ${repoPath} at ${url} (read-only; Ctrl-C stops)\n`),
    (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      const hint =
        code === "EADDRINUSE"
          ? `port ${port} is already in use on ${host}; pick another with --port N (--port 0 picks a free one)`
          : code === "EACCES"
            ? `not allowed to listen on port ${port}; ports below 1024 need privileges: use --port 8080`
            : code === "EADDRNOTAVAIL"
              ? `${host} is not an address of this machine; use --listen 127.0.0.1`
              : err.message;
      process.stderr.write(`${printableLine(`prodgate: cannot serve on ${host}:${port}: ${hint}`)}\n`);
      process.exitCode = 2;
    },
  );
  return 0;
}

/** Admin commands that change what the page shows; pushes and sync rewrite it themselves. */
export const REPORT_CHANGING_COMMANDS: ReadonlySet<string> = new Set(["qa", "freeze", "thaw", "baseline"]);

/** Rewrite the page at prodgate.reportPath after such a command; the command's own result stands either way. */
export function refreshPublishedReport(repo: () => Repo | Engine): void {
  try {
    const opened = repo();
    const engine = "store" in opened ? opened : openEngine(opened);
    try {
      const failure = publishReport(engine);
      if (failure) process.stderr.write(`${failure}\n`);
    } finally {
      engine.store.close();
    }
  } catch (err) {
    process.stderr.write(`prodgate: the deployment report was not rewritten: ${(err as Error)?.message ?? String(err)}\n`);
  }
}
