import { syncAll } from "../../engine/sync";
import { type CommandContext } from "../context";

export function syncCommand(ctx: CommandContext): number {
  const result = syncAll(ctx.engine, ctx.user);
  if (ctx.json) ctx.print(JSON.stringify(result, null, 2));
  else for (const line of result.lines) ctx.print(line);
  return result.mirror.outcome === "conflict" || result.mirror.outcome === "blocked" ? 1 : 0;
}
