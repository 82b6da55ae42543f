import { Command, CommanderError } from "commander";
import { bzrDoctorChecks, registerBzrCommands } from "../bzr/commands";
import { exitQuietlyWhenOutputCloses } from "../boundary";
import { isBzrRepository, openBzrEngine } from "../bzr/engine";
import { setup, teardown } from "../install/setup";
import { jsonSafe, printableLine } from "../policy/message";
import { baselineCommand } from "./commands/baseline";
import { ciCommand } from "./commands/ci";
import { doctorChecks } from "./commands/doctor";
import { explainCommand } from "./commands/explain";
import { freezeCommand, thawCommand } from "./commands/freeze";
import { logCommand } from "./commands/log";
import { qaCommand } from "./commands/qa";
import { REPORT_CHANGING_COMMANDS, refreshPublishedReport, reportCommand, serveCommand } from "./commands/report";
import { roleCommand } from "./commands/role";
import { securityCommand } from "./commands/security";
import { statusCommand } from "./commands/status";
import { syncCommand } from "./commands/sync";
import { commandContext, type CommandContext, type GlobalOptions, openRepo, repoDir } from "./context";

/** Builds the admin command. Each action returns its exit status; only main() exits. */
export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command("prodgate")
    .description("Keeps unapproved changes off production-stable")
    .option("--repo <dir>", "the repository (default: $GIT_DIR or the current directory)")
    .option("--json", "print one JSON document")
    .configureOutput({
      // Bad usage is one line: what is wrong and where to look.
      outputError: (text, write) => write(`${printableLine(`prodgate: ${text.replace(/^error: /, "").trim()} (see prodgate --help)`)}\n`),
    })
    .exitOverride();

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  program.hook("postAction", (_program, action) => {
    if (REPORT_CHANGING_COMMANDS.has(action.name()))
      refreshPublishedReport(() => {
        const dir = repoDir(globals());
        return isBzrRepository(dir) ? openBzrEngine(dir) : openRepo(globals());
      });
  });
  const withContext =
    <A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => number) =>
    (...args: A) => {
      const ctx = commandContext(globals());
      try {
        setExit(fn(ctx, ...args));
      } finally {
        ctx.engine.store.close();
      }
    };

  program
    .command("status")
    .description("branch tips, the deployable revision, what awaits QA, the mirror, pending security fixes")
    .action(withContext((ctx) => statusCommand(ctx)));

  program
    .command("qa")
    .description("record QA verdicts (ok, bad, untestable, needstesting) on stable revisions, or list what is pending")
    .argument("<verdict>", "ok | bad | untestable | needstesting | pending")
    .argument("[revs...]", "sha, ref, r<revno>, or A..B")
    .option("--note <text>", "a note kept with the verdict")
    .action((verdict: string, revs: string[], opts: { note?: string }) => withContext((ctx) => qaCommand(ctx, verdict, revs, opts.note))());

  program
    .command("ci")
    .description("record a CI result for a commit (role ci)")
    .argument("<result>", "pass | fail")
    .argument("<rev>")
    .action((result: string, rev: string) => withContext((ctx) => ciCommand(ctx, result, rev))());

  program
    .command("explain")
    .description("why a revision is or is not deployable, and what a push of it to production-stable would get")
    .argument("<rev>")
    .action((rev: string) => withContext((ctx) => explainCommand(ctx, rev))());

  program
    .command("freeze")
    .description("stop every automatic move of production-stable (role admin or security)")
    .requiredOption("--reason <text>", "why; shown by status")
    .action((opts: { reason: string }) => withContext((ctx) => freezeCommand(ctx, opts.reason))());

  program
    .command("thaw")
    .description("resume automatic moves of production-stable")
    .action(withContext((ctx) => thawCommand(ctx)));

  program
    .command("sync")
    .description("run the mirror and the merge-back scan now (safe from cron)")
    .action(withContext((ctx) => syncCommand(ctx)));

  program
    .command("security")
    .description("security fixes and where each has reached")
    .option("--pending", "only fixes not yet back in both devel and stable")
    .option("--max-age <days>", "exit 1 when a pending fix is older than this")
    .action((opts: { pending?: boolean; maxAge?: string }) => withContext((ctx) => securityCommand(ctx, opts))());

  program
    .command("log")
    .description("the audit log, newest first")
    .option("--limit <n>", "at most n entries", "50")
    .option("--ref <ref>", "only this ref")
    .option("--user <user>", "only this user")
    .option("--rejected", "only rejected updates")
    .action((opts: { limit?: string; ref?: string; user?: string; rejected?: boolean }) => withContext((ctx) => logCommand(ctx, opts))());

  program
    .command("role")
    .description("manage roles: add|remove <role> <user>, or list (role admin, or the repository's owner)")
    .argument("<action>", "add | remove | list")
    .argument("[role]")
    .argument("[user]")
    .action((action: string, role?: string, user?: string) => withContext((ctx) => roleCommand(ctx, action, role, user))());

  program
    .command("baseline")
    .description("show the baseline, or move it: revisions at or behind it need no verdict (role admin)")
    .argument("[rev]")
    .action((rev?: string) => withContext((ctx) => baselineCommand(ctx, rev))());

  program
    .command("report")
    .description("write the deployment report: one self-contained HTML page (to stdout, or --out FILE)")
    .option("--out <file>", "write the page to this file (atomically)")
    .action((opts: { out?: string }) => withContext((ctx) => reportCommand(ctx, opts))());

  program
    .command("serve")
    .description("serve the deployment report live, read-only, with /status.json")
    .option("--listen <addr>", "address to bind", "127.0.0.1")
    .option("--port <n>", "port (0 picks a free one)", "8080")
    .option("--refresh <seconds>", "how often the page reloads itself", "30")
    .action((opts: { listen?: string; port?: string; refresh?: string }) => setExit(serveCommand(openRepo(globals()).gitDir, opts)));

  program
    .command("doctor")
    .description("check the installation")
    .action(() => {
      const dir = repoDir(globals());
      const checks = isBzrRepository(dir) ? bzrDoctorChecks(dir) : doctorChecks(openRepo(globals()));
      if (globals().json) process.stdout.write(`${jsonSafe(JSON.stringify(checks, null, 2))}\n`);
      else
        for (const c of checks) process.stdout.write(`${printableLine(`${c.status.toUpperCase().padEnd(4)}  ${c.name}: ${c.message}`)}\n`);
      setExit(checks.some((c) => c.status === "fail") ? 1 : 0);
    });

  registerBzrCommands(program, () => repoDir(globals()), setExit);

  program
    .command("setup", { hidden: true })
    .description("install hooks, configuration and database (used by install.sh)")
    .requiredOption("--project <dir>")
    .requiredOption("--node <path>")
    .action((opts: { project: string; node: string }) => {
      for (const line of setup(openRepo(globals()), opts.project, opts.node)) process.stdout.write(`${printableLine(line)}\n`);
    });

  program
    .command("teardown", { hidden: true })
    .description("remove prodgate's hooks and restore earlier ones (used by install.sh --uninstall)")
    .action(() => {
      for (const line of teardown(openRepo(globals()))) process.stdout.write(`${printableLine(line)}\n`);
    });

  return program;
}

export function runProgram(argv: string[]): number {
  exitQuietlyWhenOutputCloses();
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    program.parse(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
      return 2;
    }
    throw err;
  }
  return code;
}
