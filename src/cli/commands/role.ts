import { UserError } from "../../errors";
import { isRole, ROLES } from "../../policy/types";
import { now } from "../../store/store";
import { type CommandContext, plainValue, requireRole } from "../context";

const USER_NAME = /^[A-Za-z0-9._@+-]+$/;

export function roleCommand(ctx: CommandContext, action: string, role?: string, user?: string): number {
  const { engine } = ctx;
  if (action === "list") {
    if (ctx.json) ctx.print(JSON.stringify(engine.config.roles, null, 2));
    else for (const r of ROLES) ctx.print(`${r.padEnd(9)} ${engine.config.roles[r].join(", ") || "-"}`);
    return 0;
  }
  if (action !== "add" && action !== "remove") throw new UserError(`unknown action "${action}": use add, remove or list`, 2);
  if (!role || !isRole(role)) throw new UserError(`unknown role "${role ?? ""}": use one of ${ROLES.join(", ")}`, 2);
  if (!user) throw new UserError(`name the user: prodgate role ${action} ${role} <user>`, 2);
  plainValue(user, "user");
  if (!USER_NAME.test(user)) throw new UserError(`"${user}" is not a user name prodgate accepts (letters, digits, . _ @ + -)`, 2);
  const actor = requireRole(ctx, ["admin"], "managing roles");
  const key = `prodgate.roles.${role}`;
  const has = engine.config.roles[role].includes(user);
  if (action === "add" && !has) engine.repo.git.run(["config", "--add", key, user]);
  if (action === "remove" && has) {
    engine.repo.git.run(["config", "--unset-all", key, `^${user.replace(/[.+]/g, "\\$&")}$`], { okStatuses: [5] });
  }
  const changed = action === "add" ? !has : has;
  if (changed) engine.store.audit([{ at: now(), user: actor, decision: "role", code: action, reason: `${action} ${role} ${user}` }]);
  ctx.print(
    changed
      ? `${action === "add" ? "added" : "removed"}: ${user} ${action === "add" ? "now holds" : "no longer holds"} ${role}`
      : `nothing to do: ${user} ${has ? "already holds" : "does not hold"} ${role}`,
  );
  return 0;
}
