// Operations, the pure part: deploy tag names, target names, and the rollout
// check's reasons. Facts come in (records, cowboys, what a revision holds),
// answers go out; git and SQLite are the engine's (src/ops/engine.ts).

/** A target: where code runs (an environment or a server). Free names, but plain ones. */
const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function isTargetName(name: string): boolean {
  return TARGET_NAME.test(name) && !name.includes("..") && !name.endsWith(".lock");
}

/**
 * Why `names` are not usable targets, or null: a name that is not plain, or,
 * when targets are configured, one that is not among them (the known names
 * are listed). With none configured every plain name is a target.
 */
export function targetProblem(names: readonly string[], configured: readonly string[]): string | null {
  if (names.length === 0) return "name at least one target";
  for (const name of names) {
    if (!isTargetName(name)) {
      return `"${name}" is not a target name (letters, digits, ".", "_" and "-", starting with a letter or digit)`;
    }
    if (configured.length > 0 && !configured.includes(name)) {
      return `"${name}" is not a known target; the targets are: ${configured.join(", ")} (prodgate.targets)`;
    }
  }
  return null;
}

export interface DeployTagName {
  target: string;
  label: string;
  /** False when the target is not a plain name or the label is empty. */
  valid: boolean;
}

/** refs/tags/deploy/<target>/<label>: a deployment recorded by an ordinary push. */
export function parseDeployTagRef(ref: string): DeployTagName | null {
  const m = /^refs\/tags\/deploy\/(.*)$/.exec(ref);
  if (!m) return null;
  const slash = m[1]!.indexOf("/");
  const target = slash < 0 ? m[1]! : m[1]!.slice(0, slash);
  const label = slash < 0 ? "" : m[1]!.slice(slash + 1);
  return { target, label, valid: isTargetName(target) && label.length > 0 };
}

/** How a cowboy's fix was found in a revision: the three ways security fixes are matched. */
export type CowboyHow = "ancestry" | "cherry-pick" | "patch-id";

/** A hot patch on one target, as the check sees it. */
export interface LiveCowboy {
  id: number;
  /** The commit that is the fix, when the cowboy names one. */
  commit: string | null;
  patchId: string | null;
  reason: string;
}

export interface CheckReason {
  code: "cowboy" | "not-on-production" | "frozen" | "off-production-record";
  message: string;
  cowboy?: number;
}

export interface TargetCheckFacts {
  target: string;
  /** The revision to roll out, short form for messages. */
  rev: string;
  revOnProduction: boolean;
  freeze: { by: string; reason: string } | null;
  ignoreFreeze: boolean;
  /** The target's last record, or null when none. */
  last: { sha: string; onProduction: boolean } | null;
  live: readonly LiveCowboy[];
  /** Ids of the live cowboys whose fix the revision holds. */
  contained: ReadonlySet<number>;
  /** Why a matched fix does not count, by cowboy id (its change is not in the revision's tree). */
  why?: ReadonlyMap<number, string>;
}

export interface TargetCheck {
  target: string;
  safe: boolean;
  reasons: CheckReason[];
}

const describeCowboy = (c: LiveCowboy): string =>
  `cowboy #${c.id} (${c.commit ? `commit ${c.commit.slice(0, 7)}` : `patch ${c.patchId?.slice(0, 7) ?? "?"}`}: ${c.reason})`;

/** Is rolling `rev` out to one target safe? Every reason it is not, in a stable order. */
export function checkTarget(f: TargetCheckFacts): TargetCheck {
  const reasons: CheckReason[] = [];
  for (const c of f.live) {
    if (f.contained.has(c.id)) continue;
    reasons.push({
      code: "cowboy",
      cowboy: c.id,
      message: `${f.target} runs ${describeCowboy(c)}, which ${f.rev} does not hold${f.why?.has(c.id) ? ` (${f.why.get(c.id)})` : ""}: rolling out would remove the hot patch`,
    });
  }
  if (!f.revOnProduction) {
    reasons.push({ code: "not-on-production", message: `${f.rev} is not on production-stable` });
  }
  if (f.freeze && !f.ignoreFreeze) {
    reasons.push({ code: "frozen", message: `production-stable is frozen by ${f.freeze.by}: ${f.freeze.reason}` });
  }
  if (f.last && !f.last.onProduction) {
    reasons.push({
      code: "off-production-record",
      message: `${f.target}'s last record (${f.last.sha.slice(0, 7)}) is not on production-stable; record a deployment of production-stable content first`,
    });
  }
  return { target: f.target, safe: reasons.length === 0, reasons };
}

/**
 * Split `deploy check`'s arguments into targets and an optional revision: the
 * last of several arguments is the revision unless it is a known target.
 */
export function splitCheckArgs(args: readonly string[], knownTargets: ReadonlySet<string>): { targets: string[]; rev: string | null } {
  if (args.length > 1 && !knownTargets.has(args[args.length - 1]!)) {
    return { targets: args.slice(0, -1), rev: args[args.length - 1]! };
  }
  return { targets: [...args], rev: null };
}
