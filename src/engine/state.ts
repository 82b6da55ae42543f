import type { TicketLookup } from "../policy/tickets";
import { type Config, readConfig, readConfigCached } from "../config";
import { UserError } from "../errors";
import { queries, Repo } from "../git/repo";
import type { FollowUp, GitQuery } from "../git/run";
import { type DeployableResult, deployableRevision } from "../policy/deployable";
import { branchRef } from "../policy/refs";
import type { BranchKind, MainlineCommit } from "../policy/types";
import { databasePath, Store } from "../store/store";
import { markerTrust } from "./markers";
import { ticketLookup, verdictsFor } from "./tickets";

export const BRANCH_KINDS: readonly BranchKind[] = ["devel", "stable", "productionStable", "productionDevel"];

/** Everything the engine works with for one repository. */
export interface Engine {
  repo: Repo;
  config: Config;
  store: Store;
}

/** `read` is a configuration the caller already read (saves a git process per hook). */
export function openEngine(repo: Repo, opts: { create?: boolean; read?: ReturnType<typeof readConfig> } = {}): Engine {
  const { config, errors } = opts.read ?? readConfigCached(repo.git, repo.gitDir);
  if (errors.length > 0) {
    const e = errors[0]!;
    throw new UserError(
      `prodgate's configuration is invalid: ${e.key}: ${e.message} (fix it with git config, then run prodgate doctor)`,
      1,
    );
  }
  const store = Store.open(databasePath(repo.gitDir), { create: opts.create });
  repo.revnoCache = store;
  try {
    // Endpoints configured since the last run start getting events before this run writes any.
    store.registerEndpoints(config.events.endpoints.map((e) => e.key));
  } catch {
    // A read-only or busy database: registered by the next writer or the deliverer.
  }
  return { repo, config, store };
}

export type Tips = Record<BranchKind, string | null>;

/** The refs of the four branches, in BRANCH_KINDS order. */
export function branchTipRefs(config: Config): string[] {
  return BRANCH_KINDS.map((k) => branchRef(config.branches[k]));
}

export function branchTips(engine: Pick<Engine, "repo" | "config">): Tips {
  const refs = branchTipRefs(engine.config);
  const found = engine.repo.refTips(refs);
  return Object.fromEntries(BRANCH_KINDS.map((k, i) => [k, found.get(refs[i]!) ?? null])) as Tips;
}

export interface DeployState {
  tips: Tips;
  baseline: string | null;
  segment: MainlineCommit[];
  /** The mainline commit just before the segment. */
  base: MainlineCommit | null;
  walk: DeployableResult;
  /** The tickets of the segment's commits (the walk's entries carry them only around an [incr] marker). */
  tickets: TicketLookup;
}

/** The git queries deployState() starts with, for a caller to ask them ahead with others. */
export function deployStateQueries(engine: Engine): GitQuery[] {
  return [queries.refTips(branchTipRefs(engine.config))];
}

/**
 * deployState()'s second question, stable's mainline not in production-stable
 * (nor the baseline), asked ahead by the shas of the two tips as read in that
 * same process: it answers deployState() only when the tips it then reads are
 * those same shas, and the baseline unchanged.
 */
export function deployStateFollowUp(engine: Engine): FollowUp {
  const { config, store } = engine;
  const baseline = store.getSetting("baseline");
  return {
    refs: [branchRef(config.branches.stable), branchRef(config.branches.productionStable)],
    query: (stable, prod) =>
      queries.mainline(
        stable,
        [prod, baseline].filter((x): x is string => !!x),
      ),
  };
}

/**
 * The deployable revision as the repository and the database stand now,
 * computed from one snapshot of the refs: the tips are read once (or given
 * as `known`), and everything after asks git by those shas only, never by a
 * branch name again. production-stable's tip in the snapshot is what any move
 * of it is compared against, so a branch that moves meanwhile only means
 * computing again.
 */
export function deployState(engine: Engine, known?: Tips): DeployState {
  const { repo, store } = engine;
  if (!known) repo.prefetchMainline(deployStateQueries(engine), deployStateFollowUp(engine));
  const baseline = store.getSetting("baseline");
  const tips = known ?? branchTips(engine);
  if (!tips.stable) {
    return {
      tips,
      baseline,
      segment: [],
      base: null,
      walk: { deployable: null, candidates: [], blocker: null, entries: [] },
      tickets: new Map(),
    };
  }
  const exclude = [tips.productionStable, baseline].filter((x): x is string => !!x);
  const { segment, boundary } = repo.mainline(tips.stable, exclude);
  const tickets = ticketLookup(engine.config, segment);
  const verdicts = verdictsFor(engine, segment, tickets);
  const walk = deployableRevision({ segment, base: boundary, verdicts, markers: markerTrust(engine, segment), tickets });
  return { tips, baseline, segment, base: boundary, walk, tickets };
}
