import { realpathSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import { UserError } from "../../errors";
import { isRole, ROLES, type Role } from "../../policy/types";
import { now } from "../../store/store";
import { type CommandContext, plainValue, requireRole } from "../context";

const USER_NAME = /^[A-Za-z0-9._@+-]+$/;

interface Grant {
  /** The key exactly as git names it (the subsection keeps its case: prodgate.Roles.qa). */
  key: string;
  /** The file that holds it. */
  file: string;
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Every line of configuration that grants `role` to `user`, the way prodgate
 * reads roles: any case of `prodgate.roles.<role>`, in the repository's config
 * file and the files it includes.
 */
function grantsOf(ctx: CommandContext, role: Role, user: string): Grant[] {
  const git = ctx.engine.repo.git;
  const out = git.run(["config", "--local", "--includes", "--show-origin", "-z", "--get-regexp", "^prodgate\\."], {
    okStatuses: [1],
  }).stdout;
  const fields = out.split("\0");
  const grants: Grant[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const origin = fields[i]!;
    const entry = fields[i + 1]!;
    const nl = entry.indexOf("\n");
    const key = nl < 0 ? entry : entry.slice(0, nl);
    const value = nl < 0 ? "true" : entry.slice(nl + 1);
    if (key.toLowerCase() !== `prodgate.roles.${role}` || value !== user) continue;
    const file = origin.startsWith("file:") ? realPath(resolve(git.cwd, origin.slice("file:".length))) : origin;
    grants.push({ key, file });
  }
  return grants;
}

export function roleCommand(ctx: CommandContext, action: string, role?: string, user?: string): number {
  const { engine } = ctx;
  if (action === "list") {
    // The repository's owner counts as admin for the admin command: say so rather than show "admin -".
    const owner = repositoryOwner(engine.repo.gitDir);
    if (ctx.json) ctx.print(JSON.stringify({ ...engine.config.roles, owner }, null, 2));
    else {
      for (const r of ROLES) ctx.print(`${r.padEnd(9)} ${engine.config.roles[r].join(", ") || "-"}`);
      if (owner)
        ctx.print(
          `the repository's owner, ${owner}, counts as admin for the admin command (not for pushes: prodgate role add admin ${owner})`,
        );
    }
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
  if (action === "remove" && has) removeGrants(ctx, role, user);
  const changed = action === "add" ? !has : has;
  if (changed) engine.store.audit([{ at: now(), user: actor, decision: "role", code: action, reason: `${action} ${role} ${user}` }]);
  ctx.print(
    changed
      ? `${action === "add" ? "added" : "removed"}: ${user} ${action === "add" ? "now holds" : "no longer holds"} ${role}`
      : `nothing to do: ${user} ${has ? "already holds" : "does not hold"} ${role}`,
  );
  return 0;
}

/**
 * Remove every grant of `role` to `user` from the repository's config file, or
 * change nothing and say where a grant is that prodgate does not edit (an
 * included file). Checked afterwards by reading the roles again.
 */
function removeGrants(ctx: CommandContext, role: Role, user: string): void {
  const git = ctx.engine.repo.git;
  const own = realPath(join(ctx.engine.repo.gitDir, "config"));
  const grants = grantsOf(ctx, role, user);
  const elsewhere = grants.filter((g) => g.file !== own);
  if (elsewhere.length > 0) {
    throw new UserError(
      `${user} holds ${role} through ${elsewhere[0]!.key} in ${elsewhere[0]!.file}, a file the repository's config includes; nothing was removed: remove that line there (prodgate edits only ${own})`,
      1,
    );
  }
  for (const key of new Set(grants.map((g) => g.key))) {
    git.run(["config", "--local", "--fixed-value", "--unset-all", key, user], { okStatuses: [5] });
  }
  if (grantsOf(ctx, role, user).length > 0) {
    throw new UserError(
      `${user} still holds ${role} after removing it from ${own}; check that file with git config --list --show-origin`,
      1,
    );
  }
}

/** The OS user owning the git directory, when it is the one running this command (else its uid is all we know). */
function repositoryOwner(gitDir: string): string | null {
  try {
    const uid = statSync(gitDir).uid;
    if (typeof process.getuid === "function" && uid === process.getuid()) return userInfo().username;
    return `uid ${uid}`;
  } catch {
    return null;
  }
}
