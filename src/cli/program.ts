import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { knownFailure, withBoundary } from "../boundary";
import { runDeliverer } from "../events/deliver";
import { deliverIfWritten } from "../events/start";
import { eventsCommand, redeliverCommand, testCommand } from "./commands/events";
import { bzrDoctorChecks, registerBzrCommands } from "../bzr/commands";
import { exitQuietlyWhenOutputCloses } from "../boundary";
import { isBzrRepository, openBzrEngine } from "../bzr/engine";
import { setup, teardown } from "../install/setup";
import { jsonSafe, printableLine } from "../policy/message";
import { baselineCommand } from "./commands/baseline";
import { ciCommand } from "./commands/ci";
import { doctorChecks } from "./commands/doctor";
import { explainCommand } from "./commands/explain";
import { registerOpsCommands } from "./commands/ops";
import { freezeCommand, thawCommand } from "./commands/freeze";
import { logCommand } from "./commands/log";
import { overridesCommand } from "./commands/overrides";
import { qaCommand, type QaOptions } from "./commands/qa";
import { REPORT_CHANGING_COMMANDS, refreshPublishedReport, reportCommand, serveCommand } from "./commands/report";
import { roleCommand } from "./commands/role";
import { securityAckCommand, securityCommand, securityRetireCommand } from "./commands/security";
import { statusCommand } from "./commands/status";
import { syncCommand } from "./commands/sync";
import { ticketsCommand } from "./commands/tickets";
import { commandContext, type CommandContext, type GlobalOptions, openRepo, repoDir } from "./context";

/** Builds the admin command. Each action returns its exit status; only main() exits. */
export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command("prodgate")
    .description("Keeps unapproved changes off production-stable")
    .version(prodgateVersion(), "--version", "print prodgate's version")
    .option("--repo <dir>", "the repository (default: $GIT_DIR or the current directory)")
    .option("--json", 'print one JSON document (errors too: {"error": {code, message}} on stdout)')
    .option("--no-color", "no colour, even on a terminal (NO_COLOR does the same)")
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      // Bad usage is one line: what is wrong and where to look (as JSON on stdout with --json).
      outputError: (text, write) => {
        const message = text.replace(/^error: /, "").trim();
        if (jsonWanted) process.stdout.write(`${jsonError("usage", `${message} (see prodgate --help)`)}\n`);
        else write(`${printableLine(`prodgate: ${message} (see prodgate --help)`)}\n`);
      },
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
    <A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => number, readOnly = false) =>
    (...args: A) => {
      const ctx = commandContext(globals(), { readOnly });
      try {
        setExit(fn(ctx, ...args));
      } finally {
        startDelivery(ctx);
        ctx.engine.store.close();
      }
    };
  // Commands that wait on the network: the exit status is set when they finish.
  const withContextAsync =
    <A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => Promise<number>) =>
    (...args: A) => {
      const ctx = commandContext(globals());
      fn(ctx, ...args)
        .then(
          (status) => (process.exitCode = status),
          (err: unknown) =>
            (process.exitCode = withBoundary(() => {
              throw err;
            })),
        )
        .finally(() => ctx.engine.store.close());
    };

  program
    .command("status")
    .description("branch tips, the deployable revision, what awaits QA, the mirror, pending security fixes")
    .action(withContext((ctx) => statusCommand(ctx), true));

  program
    .command("qa")
    .description("record QA verdicts (ok, bad, untestable, needstesting) on stable revisions, or list what is pending")
    .argument("<verdict>", "ok | bad | untestable | needstesting | pending")
    .argument("[revs...]", "sha, ref, r<revno>, or A..B")
    .option("--note <text>", "a note kept with the verdict")
    .option(
      "--ticket <id>",
      "record on every pending revision of stable whose message references this ticket (up to the one revision given)",
    )
    .option("--by-ticket", "qa pending: grouped by ticket")
    .action((verdict: string, revs: string[], opts: QaOptions) =>
      withContext((ctx) => qaCommand(ctx, verdict, revs, opts), verdict === "pending")(),
    );

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
    .description("stop every move of production-stable, the mirror and pushes alike (role admin or security)")
    .requiredOption("--reason <text>", "why; shown by status")
    .action((opts: { reason: string }) => withContext((ctx) => freezeCommand(ctx, opts.reason))());

  program
    .command("thaw")
    .description("resume moves of production-stable")
    .action(withContext((ctx) => thawCommand(ctx)));

  program
    .command("sync")
    .description("run the mirror and the merge-back scan now (safe from cron)")
    .action(withContext((ctx) => syncCommand(ctx)));

  const security = program
    .command("security")
    .description("security fixes and where each has reached (security ack)")
    .option("--pending", "only fixes not yet back in both devel and stable")
    .option("--max-age <days>", "exit 1 when a pending fix is older than this")
    .action((opts: { pending?: boolean; maxAge?: string }) => withContext((ctx) => securityCommand(ctx, opts), true)());
  security
    .command("ack")
    .description(
      "mark a security fix back in devel or stable by hand, when its change came back in a shape prodgate cannot recognise (role admin or security)",
    )
    .argument("<fix>", "the fix's sha (prodgate security lists them)")
    .argument("<branch>", "devel or stable")
    .requiredOption("--reason <text>", "why it is back; kept in the audit log")
    .action((fix: string, branch: string, opts: { reason: string }) =>
      withContext((ctx) => securityAckCommand(ctx, fix, branch, opts.reason))(),
    );
  security
    .command("retire")
    .description(
      "production-stable no longer has to hold a security fix's change, e.g. one superseded by a later fix (role admin or security); then runs the mirror",
    )
    .argument("<fix>", "the fix's sha (prodgate security lists them)")
    .requiredOption("--reason <text>", "why it is no longer needed; kept in the audit log")
    .action((fix: string, opts: { reason: string }) => withContext((ctx) => securityRetireCommand(ctx, fix, opts.reason))());

  program
    .command("tickets")
    .description("every revision referencing a ticket, its verdict, and where it has reached (stable, production-stable, deployed targets)")
    .argument("<id>", "the ticket id, as commit messages reference it ([bug=N], LP: #N, …)")
    .action((id: string) => withContext((ctx) => ticketsCommand(ctx, id), true)());

  program
    .command("overrides")
    .description("break-glass overrides of production-stable: who, when, why, and QA's verdict on every commit each brought")
    .option("--pending", "only overrides whose content still awaits a verdict, or holds a bad revision")
    .action((opts: { pending?: boolean }) => withContext((ctx) => overridesCommand(ctx, opts), true)());

  program
    .command("log")
    .description("the audit log, newest first")
    .option("--limit <n>", "at most n entries", "50")
    .option("--ref <ref>", "only this ref")
    .option("--user <user>", "only this user")
    .option("--rejected", "only rejected updates")
    .action((opts: { limit?: string; ref?: string; user?: string; rejected?: boolean }) =>
      withContext((ctx) => logCommand(ctx, opts), true)(),
    );

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
    .action((opts: { out?: string }) => withContext((ctx) => reportCommand(ctx, opts), true)());

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

  registerOpsCommands(program, withContext);

  const events = program
    .command("events")
    .description("the events sent to webhooks and mail, newest first, with each delivery (events redeliver|test)")
    .option("--type <glob>", "only events of this type (a glob: fix.*)")
    .option("--failed", "only events with a delivery not delivered after an attempt")
    .option("--limit <n>", "at most n events", "50")
    .action((opts: { type?: string; failed?: boolean; limit?: string }) => withContext((ctx) => eventsCommand(ctx, opts), true)());
  events
    .command("redeliver")
    .description("send an event again now, with the same delivery id")
    .argument("<id>", "the event's id (prodgate events shows it)")
    .option("--to <name>", "only to this endpoint (default: every endpoint that had it)")
    .action((id: string, opts: { to?: string }) => withContextAsync((ctx) => redeliverCommand(ctx, id, opts))());
  events
    .command("test")
    .description("send a ping to a webhook or mail endpoint")
    .argument("<name>", "the endpoint (prodgate.webhook.<name> or prodgate.mail.<name>)")
    .action((name: string) => withContextAsync((ctx) => testCommand(ctx, name))());

  program
    .command("deliver")
    .description("deliver queued events to webhooks and mail now (the hooks start it; one runs per repository)")
    .option("--once", "one pass over what is due, then exit (no waiting for retries)")
    .action((opts: { once?: boolean }) => {
      // Exits when done: an HTTP client keeps idle connections open for seconds, and sync waits for this process.
      deliverHere(globals(), opts).then(
        (status) => process.exit(status),
        (err: unknown) =>
          process.exit(
            withBoundary(() => {
              throw err;
            }),
          ),
      );
    });

  registerBzrCommands(program, () => repoDir(globals()), setExit);
  addExamples(program);

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

/** `prodgate deliver` for the repository --repo names, git or Bazaar (whose engine starts no Breezy for it). */
async function deliverHere(globals: GlobalOptions, opts: { once?: boolean }): Promise<number> {
  const dir = repoDir(globals);
  if (!isBzrRepository(dir)) return runDeliverer(openRepo(globals), opts);
  const engine = openBzrEngine(dir);
  const dbPath = engine.store.path;
  engine.store.close();
  return runDeliverer(engine.repo, opts, dbPath);
}

/** A command that wrote events starts the deliverer. */
function startDelivery(ctx: CommandContext): void {
  try {
    deliverIfWritten(ctx.engine.store, ctx.engine.config, ctx.engine.repo.location);
  } catch {
    // Left queued for the next deliverer or sync.
  }
}

/** Whether this run asked for JSON: its errors are JSON on stdout too. */
let jsonWanted = false;

export function jsonError(code: string, message: string): string {
  return jsonSafe(JSON.stringify({ error: { code, message } }));
}

function prodgateVersion(): string {
  try {
    // dist/prodgate.cjs sits one folder below package.json.
    return (JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** Examples shown by `prodgate <command> --help`. */
const EXAMPLES: Record<string, string[]> = {
  status: ["prodgate status", "prodgate status --repo /srv/git/app.git --json"],
  qa: [
    "prodgate qa pending",
    "prodgate qa ok r41..r43 --note 'tried on staging'",
    "prodgate qa bad r44",
    "prodgate qa ok --ticket 123456",
    "prodgate qa pending --by-ticket",
  ],
  tickets: ["prodgate tickets 123456", "prodgate tickets 123456 --json"],
  ci: ["prodgate ci pass 1a2b3c4"],
  explain: ["prodgate explain r42", "prodgate explain production-devel --json"],
  freeze: ["prodgate freeze --reason 'release weekend'"],
  thaw: ["prodgate thaw"],
  sync: ["*/5 * * * * prodgate --repo /srv/git/app.git sync"],
  security: [
    "prodgate security --pending",
    "prodgate security --pending --max-age 7",
    "prodgate security ack 1a2b3c4 devel --reason 'merged by hand in r812, the check reshaped'",
    "prodgate security retire 1a2b3c4 --reason 'superseded by 9f8e7d6, which rewrote the check'",
  ],
  overrides: ["prodgate overrides --pending", "prodgate overrides --json"],
  log: ["prodgate log --limit 20", "prodgate log --rejected --user dev", "prodgate log --ref production-stable --json"],
  role: ["prodgate role list", "prodgate role add qa quinn", "prodgate role remove ci cid"],
  baseline: ["prodgate baseline", "prodgate baseline r120"],
  report: ["prodgate report --out /var/www/app.html"],
  serve: ["prodgate serve --port 8080"],
  doctor: ["prodgate doctor"],
  events: [
    "prodgate events --failed",
    "prodgate events --type 'production-stable.*' --json",
    "prodgate events redeliver <id> --to deploy",
    "prodgate events test deploy",
  ],
  deliver: ["prodgate deliver --once"],
};

function addExamples(program: Command): void {
  for (const cmd of program.commands) {
    const examples = EXAMPLES[cmd.name()];
    if (!examples) continue;
    cmd.addHelpText(
      "after",
      `\nExamples:\n${examples.map((e) => `  ${e}`).join("\n")}\n\nGlobal options go before or after the command; with npx, after it: npx prodgate ${cmd.name()} --repo DIR`,
    );
  }
}

export function runProgram(argv: string[]): number {
  exitQuietlyWhenOutputCloses();
  let code = 0;
  const program = buildProgram((c) => (code = c));
  const end = argv.indexOf("--");
  jsonWanted = (end < 0 ? argv : argv.slice(0, end)).includes("--json");
  if (argv.length === 0) {
    // Bad usage: say how to use it, on stderr, exit 2.
    process.stderr.write(program.helpInformation());
    return 2;
  }
  try {
    program.parse(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
      return 2;
    }
    const known = knownFailure(err);
    if (jsonWanted && known) {
      process.stdout.write(`${jsonError(known.exitCode === 2 ? "usage" : "failed", known.message)}\n`);
      return known.exitCode;
    }
    if (jsonWanted) process.stdout.write(`${jsonError("internal", `internal error: ${(err as Error)?.message ?? String(err)}`)}\n`);
    throw err;
  }
  return code;
}
