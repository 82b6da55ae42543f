import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { syncAll } from "../../engine/sync";
import { type CommandContext } from "../context";

export function syncCommand(ctx: CommandContext): number {
  const result = syncAll(ctx.engine, ctx.user);
  deliverOnce(ctx);
  if (ctx.json) ctx.print(JSON.stringify(result, null, 2));
  else for (const line of result.lines) ctx.print(line);
  return result.mirror.outcome === "conflict" || result.mirror.outcome === "blocked" ? 1 : 0;
}

/**
 * The cron backstop for events too: one delivery pass over what is due (a
 * deliverer killed mid-way, retries whose time has come), unless a deliverer
 * is already running. Its outcome is in `prodgate events`, never in sync's status.
 */
function deliverOnce(ctx: CommandContext): void {
  const { engine } = ctx;
  if (engine.config.events.endpoints.length === 0) return;
  spawnSync(process.execPath, [join(__dirname, "prodgate.cjs"), "--repo", engine.repo.location, "deliver", "--once"], {
    stdio: "ignore",
    timeout: 120_000,
  });
}
