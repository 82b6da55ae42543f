import { join } from "node:path";
import { readFileSync } from "node:fs";
import { readCopied, writeCopied } from "./files";
import type { Git } from "./git/run";
import { type EventsConfig, eventsConfigFromValues } from "./events/config";
import { isTargetName } from "./ops/rules";
import { compileTicketPattern, DEFAULT_TICKET_PATTERNS } from "./policy/tickets";
import { type BranchNames, type Role, ROLES } from "./policy/types";

export interface Config {
  branches: BranchNames;
  /** Extra refs prodgate governs (globs): fast-forward only, never deleted. */
  governed: string[];
  stableWriters: "anyone" | "ci";
  /** Whose [no-qa]/[testfix]/[incr] markers count: everyone's, or only on commits a holder of this role pushed onto devel or stable. */
  markersTrust: "anyone" | Role;
  requireCi: boolean;
  identityVars: string[];
  identityFallback: "os" | "none";
  robot: { name: string; email: string };
  roles: Record<Role, string[]>;
  reportPath: string | null;
  /** Where code runs (environments, servers); empty: any plain name is a target. */
  targets: string[];
  /** The ticket patterns that compile with one capture group (prodgate.tickets.pattern, or the defaults). */
  ticketPatterns: RegExp[];
  /** Link template for a ticket, `{id}` standing for its id; null: no links. */
  ticketUrl: string | null;
  /**
   * Unusable ticket settings: doctor fails on them, pushes do not (a pattern
   * left out only finds fewer tickets, which never approves anything).
   */
  ticketProblems: ConfigError[];
  /** Webhooks and mail: its mistakes are in events.errors, never in the errors that fail a push. */
  events: EventsConfig;
}

export interface ConfigError {
  key: string;
  message: string;
}

export const DEFAULT_IDENTITY_VARS = ["GL_USERNAME", "GL_USER", "GITEA_PUSHER_NAME", "REMOTE_USER"];

/** Each key with its default and meaning; install.sh and the README are written from this. */
export const CONFIG_KEYS: Record<string, { default: string; meaning: string }> = {
  "prodgate.develBranch": { default: "devel", meaning: "where work lands" },
  "prodgate.stableBranch": { default: "stable", meaning: "tested revisions of devel" },
  "prodgate.productionStableBranch": { default: "production-stable", meaning: "what operations deploy" },
  "prodgate.productionDevelBranch": { default: "production-devel", meaning: "where security fixes are prepared" },
  "prodgate.governed": { default: "", meaning: "extra ref globs to protect (multi-valued): fast-forward only, never deleted" },
  "prodgate.stableWriters": { default: "anyone", meaning: "`anyone` or `ci`: who may advance stable" },
  "prodgate.markers.trust": {
    default: "ci",
    meaning:
      "`anyone` or a role: whose `[no-qa]`/`[testfix]`/`[incr]` markers count — only on commits a holder of the role pushed onto devel (or stable)",
  },
  "prodgate.requireCi": { default: "true", meaning: "security promotions need a recorded CI pass" },
  "prodgate.identityVars": {
    default: DEFAULT_IDENTITY_VARS.join(","),
    meaning: "environment variables naming the pusher, first set one wins",
  },
  "prodgate.identityFallback": { default: "os", meaning: "`os` (the OS user running the hook) or `none`" },
  "prodgate.robot": { default: "prodgate <prodgate@localhost>", meaning: "author and committer of mirror merges" },
  "prodgate.roles.<role>": { default: "", meaning: "users holding a role (multi-valued; qa, security, ci, ops, admin)" },
  "prodgate.reportPath": { default: "", meaning: "where hooks and sync rewrite the HTML deployment report" },
  "prodgate.tickets.pattern": {
    default: "`[bug=N]`, `LP: #N`, `Fixes #N`",
    meaning:
      "regular expressions finding ticket ids in commit messages (multi-valued), each with one capture group around the id or a list of ids; set, they replace the defaults",
  },
  "prodgate.tickets.url": {
    default: "",
    meaning: "link template for a ticket, `{id}` standing for its id (`https://bugs.example.org/{id}`)",
  },
  "prodgate.targets": {
    default: "",
    meaning:
      "where code runs (multi-valued): the only target names deploy and cowboy commands and deploy/ tags take; unset, any plain name",
  },
  "prodgate.webhook.<name>.url": { default: "", meaning: "a webhook: where events are POSTed (http:// or https://)" },
  "prodgate.webhook.<name>.events": {
    default: "*",
    meaning: "event types the webhook gets (multi-valued globs, e.g. `production-stable.*`)",
  },
  "prodgate.webhook.<name>.secretFile": {
    default: "",
    meaning: "file holding the webhook's signing secret, readable by the hook user only (required; doctor checks its mode)",
  },
  "prodgate.mail.<name>.to": { default: "", meaning: "a mail endpoint: who gets the mail (multi-valued addresses)" },
  "prodgate.mail.<name>.events": { default: "*", meaning: "event types mailed (multi-valued globs)" },
  "prodgate.smtp.url": {
    default: "",
    meaning: "the mail server: `smtp://host:port` (STARTTLS when offered) or `smtps://host:port`; user in the URL",
  },
  "prodgate.smtp.passwordFile": { default: "", meaning: "file holding the SMTP password (never in git config)" },
  "prodgate.reportUrl": { default: "", meaning: "the deployment report's URL, named in mail" },
  "prodgate.events.retryBase": {
    default: "60",
    meaning:
      "seconds before a failed delivery's first retry; the delay doubles up to 60 times it, and delivery gives up after 1440 times it (24 h)",
  },
  "prodgate.fixMaxAgeDays": {
    default: "14",
    meaning: "days a security fix may stay pending before `sync` raises fix.overdue (once a day; 0: from its promotion)",
  },
};

/** Parse `git config -z --get-regexp` output into lower-cased key → values. */
export function parseConfigOutput(output: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const entry of output.split("\0")) {
    if (entry === "") continue;
    const nl = entry.indexOf("\n");
    const key = (nl < 0 ? entry : entry.slice(0, nl)).toLowerCase();
    const value = nl < 0 ? "true" : entry.slice(nl + 1);
    values.set(key, [...(values.get(key) ?? []), value]);
  }
  return values;
}

const BRANCH_NAME = /^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]+$/;

function parseBool(value: string): boolean | null {
  const v = value.toLowerCase();
  if (["true", "yes", "on", "1"].includes(v)) return true;
  if (["false", "no", "off", "0"].includes(v)) return false;
  return null;
}

/** read → validate → normalise; never throws on bad values, returns them as errors. */
export function configFromValues(values: Map<string, string[]>): { config: Config; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const last = (key: string): string | undefined => values.get(key.toLowerCase())?.at(-1);

  const branch = (key: string, fallback: string): string => {
    const v = last(key);
    if (v === undefined || v === "") return fallback;
    if (!BRANCH_NAME.test(v)) {
      errors.push({ key, message: `"${v}" is not a usable branch name` });
      return fallback;
    }
    return v;
  };
  const branches: BranchNames = {
    devel: branch("prodgate.develBranch", "devel"),
    stable: branch("prodgate.stableBranch", "stable"),
    productionStable: branch("prodgate.productionStableBranch", "production-stable"),
    productionDevel: branch("prodgate.productionDevelBranch", "production-devel"),
  };
  if (new Set(Object.values(branches)).size !== 4) {
    errors.push({ key: "prodgate.*Branch", message: "the four branches must have four different names" });
  }

  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const v = last(key);
    if (v === undefined) return fallback;
    if ((allowed as readonly string[]).includes(v)) return v as T;
    errors.push({ key, message: `"${v}" is not one of ${allowed.join(", ")}` });
    return fallback;
  };

  let requireCi = true;
  const requireCiValue = last("prodgate.requireCi");
  if (requireCiValue !== undefined) {
    const b = parseBool(requireCiValue);
    if (b === null) errors.push({ key: "prodgate.requireCi", message: `"${requireCiValue}" is not true or false` });
    else requireCi = b;
  }

  const identityVarsValue = last("prodgate.identityVars");
  const identityVars = identityVarsValue ? identityVarsValue.split(/[,\s]+/).filter(Boolean) : [...DEFAULT_IDENTITY_VARS];
  for (const name of identityVars) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      errors.push({ key: "prodgate.identityVars", message: `"${name}" is not an environment variable name` });
    }
  }

  const robotValue = last("prodgate.robot") ?? "prodgate <prodgate@localhost>";
  const robotMatch = /^\s*([^<>]+?)\s*<([^<>\s]+)>\s*$/.exec(robotValue);
  if (!robotMatch) errors.push({ key: "prodgate.robot", message: `"${robotValue}" is not "Name <email>"` });
  const robot = robotMatch ? { name: robotMatch[1]!, email: robotMatch[2]! } : { name: "prodgate", email: "prodgate@localhost" };

  const roles = Object.fromEntries(ROLES.map((r) => [r, [...new Set(values.get(`prodgate.roles.${r}`) ?? [])]])) as Record<Role, string[]>;
  for (const key of values.keys()) {
    const m = /^prodgate\.roles\.(.*)$/.exec(key);
    if (m && !(ROLES as readonly string[]).includes(m[1]!)) {
      errors.push({ key, message: `"${m[1]}" is not a role (${ROLES.join(", ")})` });
    }
  }

  const governed = (values.get("prodgate.governed") ?? []).filter((g) => g !== "");
  for (const g of governed) {
    if (!g.startsWith("refs/")) errors.push({ key: "prodgate.governed", message: `"${g}" must start with refs/` });
  }

  const targets = [...new Set((values.get("prodgate.targets") ?? []).filter((t) => t !== ""))];
  for (const t of targets) {
    if (!isTargetName(t)) errors.push({ key: "prodgate.targets", message: `"${t}" is not a target name (letters, digits, ".", "_", "-")` });
  }

  const ticketProblems: ConfigError[] = [];
  const patternValues = values.get("prodgate.tickets.pattern");
  const ticketPatterns: RegExp[] = [];
  for (const source of patternValues ? patternValues.filter((v) => v !== "") : DEFAULT_TICKET_PATTERNS) {
    const compiled = compileTicketPattern(source);
    if ("error" in compiled) ticketProblems.push({ key: "prodgate.tickets.pattern", message: compiled.error });
    else ticketPatterns.push(compiled.pattern);
  }
  const ticketUrl = last("prodgate.tickets.url") || null;
  if (ticketUrl !== null && (!/^https?:\/\/[^\s<>"]+$/.test(ticketUrl) || !ticketUrl.includes("{id}"))) {
    ticketProblems.push({ key: "prodgate.tickets.url", message: `"${ticketUrl}" is not an http(s) address with {id} in it` });
  }

  const config: Config = {
    branches,
    governed,
    stableWriters: oneOf("prodgate.stableWriters", ["anyone", "ci"] as const, "anyone"),
    markersTrust: oneOf("prodgate.markers.trust", ["anyone", ...ROLES] as const, "ci"),
    requireCi,
    identityVars,
    identityFallback: oneOf("prodgate.identityFallback", ["os", "none"] as const, "os"),
    robot,
    roles,
    reportPath: last("prodgate.reportPath") || null,
    targets,
    ticketPatterns,
    ticketUrl: ticketProblems.some((p) => p.key === "prodgate.tickets.url") ? null : ticketUrl,
    ticketProblems,
    events: eventsConfigFromValues(values),
  };
  return { config, errors };
}

/**
 * Only the repository's own config file (and files it includes) is read: the
 * global and system files, GIT_CONFIG_GLOBAL and GIT_CONFIG_COUNT/KEY/VALUE
 * come from whoever runs git, and roles or branch names must not.
 */
export function readConfig(git: Git): { config: Config; errors: ConfigError[] } {
  const r = git.run(["config", "--local", "--includes", "-z", "--get-regexp", "^prodgate\\."], { okStatuses: [1] });
  return configFromValues(parseConfigOutput(r.stdout));
}

/**
 * readConfig for the hooks, which run on every push: git config's answer is
 * kept in prodgate/config.cache.v2 with a copy of the repository's config
 * file it was read from, and reused only while the file is byte for byte that
 * copy (a file's time or inode can stay the same across a change). The file
 * is read before git reads it, so a change made meanwhile is read again next
 * time. Included files are not copied: with an include, git config runs every
 * time.
 */
export function readConfigCached(git: Git, gitDir: string): { config: Config; errors: ConfigError[] } {
  const cache = join(gitDir, "prodgate", "config.cache.v2");
  let source: Buffer | null = null;
  try {
    source = readFileSync(join(gitDir, "config"));
  } catch {
    // git config says what is wrong.
  }
  const cached = source ? readCopied(cache, source) : null;
  if (cached !== null) return configFromValues(parseConfigOutput(cached));
  const r = git.run(["config", "--local", "--includes", "-z", "--get-regexp", "^(prodgate|include|includeif)\\."], { okStatuses: [1] });
  const values = parseConfigOutput(r.stdout);
  let included = false;
  for (const k of [...values.keys()]) {
    if (k.startsWith("prodgate.")) continue;
    included = true;
    values.delete(k);
  }
  if (source && !included) {
    const own = r.stdout
      .split("\0")
      .filter((e) => e.toLowerCase().startsWith("prodgate."))
      .map((e) => `${e}\0`)
      .join("");
    writeCopied(cache, source, own);
  }
  return configFromValues(values);
}

export function rolesOf(config: Config, user: string | null): Set<Role> {
  const roles = new Set<Role>();
  if (!user) return roles;
  for (const role of ROLES) if (config.roles[role].includes(user)) roles.add(role);
  return roles;
}
