import type { Command } from "commander";
import type { CommandContext } from "../context";
import { cowboyAddCommand, cowboyListCommand, cowboyRemoveCommand } from "./cowboy";
import { deployCheckCommand, deployLogCommand, deployRecordCommand, deployStatusCommand } from "./deploy";

type WithContext = <A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => number) => (...args: A) => void;

/** The operators' commands: deploy record|status|log|check, cowboy add|list|remove. */
export function registerOpsCommands(program: Command, withContext: WithContext): void {
  const deploy = program.command("deploy").description("what runs where, and whether a rollout is safe (deploy record|status|log|check)");
  deploy
    .command("record")
    .description("record that <rev> now runs on each target (role ops)")
    .argument("<targets-and-rev...>", "<target>... <rev>")
    .option("--note <text>", "a note kept with the record")
    .action((args: string[], opts: { note?: string }) => withContext((ctx) => deployRecordCommand(ctx, args, opts))());
  deploy
    .command("status")
    .description("per target: what runs there, what the next rollout brings, its live cowboys")
    .argument("[target]")
    .action((target?: string) => withContext((ctx) => deployStatusCommand(ctx, target))());
  deploy
    .command("log")
    .description("the deployment records, newest first")
    .argument("[target]")
    .option("--limit <n>", "at most n records", "50")
    .action((target: string | undefined, opts: { limit?: string }) => withContext((ctx) => deployLogCommand(ctx, target, opts))());
  deploy
    .command("check")
    .description("exit 0 when rolling <rev> (default: production-stable's tip) out to every target is safe, 1 when not")
    .argument("<targets-and-rev...>", "<target>... [<rev>]")
    .option("--ignore-freeze", "a freeze of production-stable does not count (role ops)")
    .action((args: string[], opts: { ignoreFreeze?: boolean }) => withContext((ctx) => deployCheckCommand(ctx, args, opts))());

  const cowboy = program.command("cowboy").description("hot patches applied by hand on servers (cowboy add|list|remove)");
  cowboy
    .command("add")
    .description("record a hot patch applied on these targets (role ops or security)")
    .argument("<targets...>")
    .option("--commit <rev>", "the fix, as a commit anywhere in the repository")
    .option("--patch <file>", "the fix, as a patch file")
    .option("--reason <text>", "why it was applied")
    .action((targets: string[], opts: { commit?: string; patch?: string; reason?: string }) =>
      withContext((ctx) => cowboyAddCommand(ctx, targets, opts))(),
    );
  cowboy
    .command("list")
    .description("cowboys and where each is live or retired")
    .option("--live", "only cowboys still live somewhere")
    .action((opts: { live?: boolean }) => withContext((ctx) => cowboyListCommand(ctx, opts))());
  cowboy
    .command("remove")
    .description("say a cowboy is no longer applied anywhere (role ops or security)")
    .argument("<id>")
    .option("--reason <text>", "why")
    .action((id: string, opts: { reason?: string }) => withContext((ctx) => cowboyRemoveCommand(ctx, id, opts))());
}
