import type { CommitList, ListedCommit, ProductionFacts, UpdateFacts } from "../policy/decide";
import { MAX_LISTED_COMMITS } from "../policy/message";
import { branchRef, type RefClass } from "../policy/refs";
import { type CommitInfo, isZeroSha, type MainlineCommit, type Verdict } from "../policy/types";
import { queries } from "../git/repo";
import type { FollowUp, GitQuery } from "../git/run";
import { fixesAtTip } from "./held";
import { ticketVerdictRevisions } from "./tickets";
import { branchTips, type DeployState, deployState, deployStateFollowUp, deployStateQueries, type Engine, type Tips } from "./state";

/** The branches whose old tip must stay on the new tip's first-parent chain. */
const FIRST_PARENT_KINDS = new Set<RefClass["kind"]>(["devel", "stable", "productionStable", "productionDevel"]);

/**
 * Given `added`, the commits of `now` ^`old` (old an ancestor of now), does
 * the first-parent chain of `now` pass through `old`? Each step stays inside
 * `added` until it leaves it; the first commit outside is `old` exactly when
 * old is on the chain (any other commit outside is an ancestor of old, from
 * which old cannot be reached).
 */
export function firstParentReaches(added: readonly CommitInfo[], now: string, old: string): boolean {
  const bySha = new Map(added.map((c) => [c.sha, c]));
  let at: string | undefined = now;
  for (let steps = 0; at !== undefined && steps <= added.length; steps++) {
    if (at === old) return true;
    at = bySha.get(at)?.parents[0];
  }
  return false;
}

/** The kinds of update whose facts depend on where the branches are and what is deployable. */
const NEEDS_TIPS = new Set<RefClass["kind"]>(["productionStable"]);

export interface RefUpdate {
  old: string;
  new: string;
  ref: string;
}

/**
 * Gathers the facts for each governed update from the repository as it was
 * before the push: refs are read once, and nothing recorded by this push
 * (verdicts, CI results) exists yet.
 */
export class FactGatherer {
  private deploy: DeployState | null = null;
  private knownTips: Tips | null;

  /** `deploy`: a deploy state the caller already computed (explain), so the decision reads the same snapshot. */
  constructor(
    private readonly engine: Engine,
    tips: Tips | null = null,
    deploy: DeployState | null = null,
  ) {
    this.knownTips = tips ?? deploy?.tips ?? null;
    this.deploy = deploy;
  }

  /** Read on first use: a push to devel alone never needs them. */
  private get tips(): Tips {
    this.knownTips ??= branchTips(this.engine);
    return this.knownTips;
  }

  private deployState(): DeployState {
    // Without tips read yet, deployState asks for them and the mainline together.
    this.deploy ??= deployState(this.engine, this.knownTips ?? undefined);
    this.knownTips ??= this.deploy.tips;
    return this.deploy;
  }

  private listCommits(include: string[], exclude: string[], label: (c: ListedCommit) => ListedCommit): CommitList {
    const { repo } = this.engine;
    const total = repo.count(include, exclude);
    const commits = total === 0 ? [] : repo.commits(include, exclude, { limit: MAX_LISTED_COMMITS }).map(label);
    return { commits, total };
  }

  private labelFromSegment(c: ListedCommit): ListedCommit {
    const entry = this.deployState().walk.entries.find((e) => e.commit.sha === c.sha);
    return entry ? { ...c, revno: entry.commit.revno, verdict: entry.verdict } : c;
  }

  /**
   * Ask git ahead, in one process, what gather() will want to know about
   * these updates; `extra` queries (other callers' needs) ride along.
   */
  prefetch(updates: readonly { update: RefUpdate; cls: RefClass }[], extra: readonly GitQuery[] = []): void {
    const { repo, config } = this.engine;
    const planned: GitQuery[] = [...extra];
    let follow: FollowUp | undefined;
    if (!this.knownTips && updates.some(({ cls }) => NEEDS_TIPS.has(cls.kind))) {
      planned.push(...deployStateQueries(this.engine));
      follow = deployStateFollowUp(this.engine);
    }
    const settled: RefUpdate[] = [];
    for (const { update, cls } of updates) {
      if (isZeroSha(update.new)) continue;
      if (cls.kind === "stable") planned.push(queries.isAncestor(update.new, branchRef(config.branches.devel)));
      const isCreate = isZeroSha(update.old);
      // devel and stable get one log that also lists what they add (the quiet
      // note needs it); any other branch may add thousands of commits nobody lists.
      if (!isCreate && (cls.kind === "devel" || cls.kind === "stable")) settled.push(update);
      else planned.push(queries.objectType(update.new), ...(isCreate ? [] : [queries.isAncestor(update.old, update.new)]));
      // Asked as if the tag names a commit, which a verdict tag usually does.
      if (cls.kind === "verdictTag") planned.push(queries.mainlineTo(update.new, branchRef(config.branches.stable)));
    }
    repo.prefetchUpdates(settled, planned, follow);
  }

  gather(update: RefUpdate, cls: RefClass): UpdateFacts {
    const { repo } = this.engine;
    const isCreate = isZeroSha(update.old);
    const isDelete = isZeroSha(update.new);
    const newType = isDelete ? null : repo.objectType(update.new);
    const facts: UpdateFacts = {
      ...update,
      class: cls,
      isCreate,
      isDelete,
      newType,
      isFastForward: isCreate || isDelete || newType !== "commit" ? isCreate : repo.isAncestor(update.old, update.new),
      keepsFirstParent: isCreate,
    };
    switch (cls.kind) {
      case "stable":
        // By name: where devel is now, before this push, like every other fact.
        facts.onDevel = newType === "commit" && repo.isAncestorOfRef(update.new, branchRef(this.engine.config.branches.devel));
        break;
      case "productionStable":
        if (newType === "commit" && facts.isFastForward) facts.production = this.production(update);
        break;
      case "verdictTag":
        facts.verdictTarget = isDelete ? null : this.mainlineTarget(update.new, newType);
        if (facts.verdictTarget && cls.tag?.ticket !== undefined) {
          const { record, keptBad } = ticketVerdictRevisions(
            this.engine,
            this.deployState(),
            facts.verdictTarget.revno,
            cls.tag.ticket,
            cls.tag.value as Verdict,
          );
          facts.ticketRevisions = record;
          if (keptBad.length) facts.ticketKeptBad = keptBad;
        }
        break;
      case "ciTag":
        facts.ciTarget = isDelete ? null : repo.resolveCommit(update.new);
        break;
      case "deployTag":
        facts.deployTarget = isDelete ? null : repo.resolveCommit(update.new);
        break;
    }
    // After the production facts, whose deploy state can answer it for production-stable.
    if (!isCreate && facts.isFastForward) facts.keepsFirstParent = this.keepsFirstParent(update, cls);
    else if (isCreate && newType === "commit") facts.keepsFirstParent = this.continuesDeletedHistory(update, cls);
    return facts;
  }

  /**
   * Is the old tip on the new tip's first-parent chain (old is an ancestor)?
   * For devel and stable the commits of new ^old are already known from the
   * push's prefetched log: walking first parents from new through them
   * reaches old exactly when old is on the chain. Other branches ask git for
   * the chain from new down to old.
   */
  private keepsFirstParent(update: RefUpdate, cls: RefClass): boolean {
    if (!FIRST_PARENT_KINDS.has(cls.kind)) return true;
    if (update.old === update.new) return true;
    const { repo } = this.engine;
    if (cls.kind === "devel" || cls.kind === "stable")
      return firstParentReaches(repo.commits([update.new], [update.old]), update.new, update.old);
    if (cls.kind === "productionStable" && this.deploy) {
      // The segment is stable's first-parent chain down to its base: a tip in it reaches the base.
      const { base, walk } = this.deploy;
      if (base?.sha === update.old && walk.entries.some((e) => e.commit.sha === update.new)) return true;
    }
    return repo.onMainline(update.old, update.new);
  }

  /**
   * A governed branch created again after an admin's override deleted it
   * keeps its revision numbers: its old tip must be on the new tip's
   * first-parent chain. A branch never deleted may start anywhere.
   */
  private continuesDeletedHistory(update: RefUpdate, cls: RefClass): boolean {
    if (!FIRST_PARENT_KINDS.has(cls.kind)) return true;
    const before = this.engine.store.tipBeforeDeletion(update.ref);
    if (!before || before === update.new) return true;
    return this.engine.repo.onMainline(before, update.new);
  }

  private production(update: RefUpdate): ProductionFacts {
    const { repo, store, config } = this.engine;
    const { walk } = this.deployState();
    const deployable = walk.deployable;
    const exclude = [update.old, deployable?.sha].filter((x): x is string => !!x && !isZeroSha(x));
    const label = (c: ListedCommit) => this.labelFromSegment(c);
    const unapproved = this.listCommits([update.new], exclude, label);
    let tipIsApproved = walk.candidates.some((c) => c.sha === update.new);
    if (!tipIsApproved && unapproved.total === 0 && this.tips.stable && !walk.entries.some((e) => e.commit.sha === update.new)) {
      // A mainline commit outside the segment is in production already or at/behind the baseline.
      tipIsApproved = repo.onMainline(update.new, this.tips.stable);
    }
    let onProductionDevel = false;
    let outsideBoth: CommitList = { commits: [], total: 0 };
    let ciPassed = false;
    if ((unapproved.total > 0 || !tipIsApproved) && this.tips.productionDevel) {
      onProductionDevel = repo.isAncestor(update.new, this.tips.productionDevel);
      outsideBoth = this.listCommits([update.new], [...exclude, this.tips.productionDevel], label);
      ciPassed = !config.requireCi || store.latestCi(update.new)?.result === "pass";
    }
    // Asked only of a tip the rules would otherwise take: every such move must keep every security fix's change.
    const wouldTake = (unapproved.total === 0 && tipIsApproved) || (onProductionDevel && outsideBoth.total === 0);
    const dropsFixes = wouldTake ? fixesAtTip(this.engine, update.new).dropped.map((f) => ({ sha: f.sha, subject: f.subject })) : [];
    return { deployable, tipIsApproved, unapproved, onProductionDevel, outsideBoth, ciPassed, dropsFixes };
  }

  /** The mainline commit of stable that `target` (a commit or a tag) names, or null. */
  private mainlineTarget(target: string, type: string | null): MainlineCommit | null {
    const { repo, config } = this.engine;
    const commit = type === "commit" ? target : repo.resolveCommit(target);
    if (!commit) return null;
    return repo.mainlineCommit(commit, branchRef(config.branches.stable));
  }
}
