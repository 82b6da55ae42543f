import { UserError } from "../errors";
import { parseRevSpec, type RevSpec } from "../policy/revspec";
import { shortSha, type MainlineCommit } from "../policy/types";
import { branchTips, type Engine } from "./state";

function describe(spec: RevSpec): string {
  if (spec.kind === "revno") return `r${spec.revno}`;
  if (spec.kind === "name") return spec.name;
  return `${describe(spec.from)}..${describe(spec.to)}`;
}

function stableTip(engine: Engine): string {
  const tip = branchTips(engine).stable;
  if (!tip) throw new UserError(`the branch ${engine.config.branches.stable} does not exist yet; push it first`, 2);
  return tip;
}

/** Resolve a single revision to a commit sha (any commit, not only stable's). */
export function resolveCommitSpec(engine: Engine, spec: RevSpec): string {
  const { repo } = engine;
  if (spec.kind === "range") throw new UserError(`"${describe(spec)}" is a range; give one revision`, 2);
  if (spec.kind === "revno") {
    const tip = stableTip(engine);
    const tipRevno = repo.revno(tip);
    if (spec.revno > tipRevno) {
      throw new UserError(`r${spec.revno} does not exist: ${engine.config.branches.stable} ends at r${tipRevno}`, 2);
    }
    const sha = repo.resolveCommit(`${tip}~${tipRevno - spec.revno}`);
    if (!sha) throw new UserError(`r${spec.revno} cannot be found on ${engine.config.branches.stable}`, 2);
    return sha;
  }
  // A governed branch's name means the branch: git would take a tag of the same name (refs/tags/ comes
  // first), and anyone may push such a tag.
  const branch = Object.values(engine.config.branches).includes(spec.name) ? `refs/heads/${spec.name}` : spec.name;
  const sha = repo.resolveCommit(branch);
  if (!sha) throw new UserError(`"${spec.name}" is not a commit in this repository (try a sha, a branch or r<revno>)`, 2);
  return sha;
}

function asMainline(engine: Engine, sha: string, tip: string, label: string): MainlineCommit {
  const { repo } = engine;
  if (!repo.onMainline(sha, tip)) {
    throw new UserError(
      `${label} (${shortSha(sha)}) is not a mainline commit of ${engine.config.branches.stable}; see prodgate qa pending`,
      2,
    );
  }
  return { ...repo.commit(sha)!, revno: repo.revno(sha) };
}

/** Resolve revisions to mainline commits of stable, oldest first. Throws before anything is done if any is bad. */
export function resolveMainline(engine: Engine, texts: readonly string[]): MainlineCommit[] {
  const tip = stableTip(engine);
  const { repo } = engine;
  const result: MainlineCommit[] = [];
  for (const text of texts) {
    const spec = parseRevSpec(text);
    if (spec.kind !== "range") {
      result.push(asMainline(engine, resolveCommitSpec(engine, spec), tip, text));
      continue;
    }
    const from = resolveCommitSpec(engine, spec.from);
    const to = asMainline(engine, resolveCommitSpec(engine, spec.to), tip, text);
    if (!repo.isAncestor(from, to.sha)) {
      throw new UserError(
        `bad range "${text}": ${describe(spec.from)} is not an ancestor of ${describe(spec.to)} (reversed, or unrelated histories?)`,
        2,
      );
    }
    // A range of revnos includes both ends, as Bazaar's -r A..B does; A..B of shas or refs means what git means.
    const bothEnds = spec.from.kind === "revno";
    const firstParent = bothEnds ? repo.parentsOf(from)[0] : undefined;
    const { segment } = repo.mainline(to.sha, bothEnds ? (firstParent ? [firstParent] : []) : [from]);
    if (segment.length === 0) throw new UserError(`range "${text}" holds no commits`, 2);
    result.push(...segment);
  }
  const seen = new Set<string>();
  return result.filter((c) => !seen.has(c.sha) && seen.add(c.sha)).sort((a, b) => a.revno - b.revno);
}
