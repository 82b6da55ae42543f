// A Bazaar shared repository behind the engine's Repo interface: queries are
// answered from a snapshot gathered with Breezy, tip changes go back through
// Breezy with a compare-and-swap. Branch `<path>` appears as refs/heads/<path>.
import { realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "../errors";
import { Git, type GitOptions, type GitResult } from "../git/run";
import { Repo } from "../git/repo";
import type { CommitInfo, MainlineCommit } from "../policy/types";
import { setTip } from "./helper";
import type { BzrHistory } from "./history";
import type { FactsAnswer, LoadedHistory } from "./index";

/**
 * Where prodgate keeps its configuration and database: `<root>.prodgate`, next
 * to the served shared repository and never inside it, so no client reaches it.
 */
export function stateDir(root: string): string {
  let abs = resolve(root);
  try {
    abs = realpathSync(abs);
  } catch {
    // not there yet: the path as given
  }
  return join(dirname(abs), `${basename(abs)}.prodgate`);
}

/** Where earlier versions kept the state, inside the served tree; setup-bzr moves it out. */
export function legacyStateDir(root: string): string {
  return join(root, ".bzr", "prodgate");
}

export function configPath(root: string): string {
  return join(stateDir(root), "config");
}

/**
 * Only `git config` on the repository's own config file: the configuration
 * keeps git's syntax and tools. Any other git command on a Bazaar repository
 * is a bug, and says so.
 */
export class ConfigFileGit extends Git {
  constructor(
    cwd: string,
    readonly file: string,
  ) {
    super(cwd);
  }

  override run(args: readonly string[], opts: GitOptions = {}): GitResult {
    if (args[0] !== "config") throw new Error(`git ${args[0]} asked of a Bazaar repository`);
    // The repository's own config is this file: --local means --file here.
    const rest = args.slice(1).filter((a) => a !== "--local");
    return super.run(["config", "--file", this.file, ...rest], {
      ...opts,
      env: { ...opts.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
    });
  }
}

const HEADS = "refs/heads/";

/** A tip change the caller must make itself (the branch it holds locked). */
export interface DeferredMove {
  branch: string;
  old: string | null;
  new: string;
  revno: number;
}

export class BzrRepo extends Repo {
  /** Moves of `lockedBranch` handed back to the plugin instead of made here. */
  readonly deferred: DeferredMove[] = [];
  private loaded: LoadedHistory | null = null;

  /**
   * @param load reads the tips from Breezy and the history from the index
   *   (src/bzr/index.ts); called at the first question, so a command that asks
   *   none never starts Breezy, and again after a compare-and-swap lost.
   * @param lockedBranch the branch the calling server process holds locked
   *   (inside a hook); the engine cannot take its lock, and no one else can move it.
   */
  constructor(
    readonly root: string,
    private readonly load: () => LoadedHistory,
    private readonly lockedBranch: string | null = null,
  ) {
    // The engine keeps its lock files under <gitDir>/prodgate: here inside the state directory, out of the served tree.
    super(stateDir(root), new ConfigFileGit(root, configPath(root)));
  }

  /** The shared repository, not the state directory: what --repo names. */
  override get location(): string {
    return this.root;
  }

  get history(): BzrHistory {
    this.loaded ??= this.load();
    return this.loaded.history;
  }

  /** The facts the tips came from: tips, the revnos the branches state, layout problems. */
  get facts(): FactsAnswer {
    this.loaded ??= this.load();
    return this.loaded.facts;
  }

  /** Whether the index was rebuilt from everything Breezy holds while loading. */
  get rebuilt(): boolean {
    return this.loaded?.rebuilt ?? false;
  }

  override get mergesWithoutWorktree(): boolean {
    return false;
  }

  /** Bazaar's trees are not read here (see changeContained). */
  override get readsTrees(): boolean {
    return false;
  }

  private branchOf(ref: string): string | null {
    return ref.startsWith(HEADS) ? ref.slice(HEADS.length) : null;
  }

  override refTips(refs: readonly string[]): Map<string, string> {
    const tips = new Map<string, string>();
    for (const ref of refs) {
      const branch = this.branchOf(ref);
      const tip = branch !== null ? this.history.tips.get(branch) : undefined;
      if (tip) tips.set(ref, tip);
    }
    return tips;
  }

  /** A revision id, a branch (path or refs/heads/path), each optionally followed by ~N. */
  override resolveCommit(name: string): string | null {
    const m = /^(.*?)(?:~([0-9]+))?$/.exec(name)!;
    const base = m[1]!;
    const steps = Number(m[2] ?? 0);
    const branch = this.branchOf(base) ?? base;
    const id = this.history.tips.get(branch) ?? (this.history.has(base) ? base : null);
    return id ? this.history.back(id, steps) : null;
  }

  override objectType(sha: string): string | null {
    return this.history.has(sha) ? "commit" : null;
  }

  override isAncestor(ancestor: string, descendant: string): boolean {
    return this.history.isAncestor(ancestor, descendant);
  }

  override revno(sha: string): number {
    return this.history.revno(sha);
  }

  override isAncestorOfRef(sha: string, ref: string): boolean {
    const tip = this.refTips([ref]).get(ref);
    return !!tip && this.history.isAncestor(sha, tip);
  }

  /** The whole history is already in memory: nothing to ask ahead. */
  override prefetchUpdates(): void {}

  override prefetchMainline(): boolean {
    return false;
  }

  override mainlineCommit(sha: string, ref: string): MainlineCommit | null {
    const tip = this.refTips([ref]).get(ref);
    if (!tip || !this.onMainline(sha, tip)) return null;
    const c = this.commit(sha);
    return c ? { ...c, revno: this.history.revno(sha) } : null;
  }

  override knownCommit(sha: string): string | null {
    return this.history.has(sha) ? sha : null;
  }

  override learnRevno(): void {}

  override commits(
    include: readonly string[],
    exclude: readonly string[] = [],
    opts: { limit?: number; noMerges?: boolean } = {},
  ): CommitInfo[] {
    let ids = this.history.between(include, exclude);
    if (opts.noMerges) ids = ids.filter((id) => this.history.parents(id).length < 2);
    if (opts.limit !== undefined) ids = ids.slice(0, opts.limit);
    return ids.map((id) => this.history.commit(id)!);
  }

  override commitsNoWalk(shas: readonly string[]): CommitInfo[] {
    return shas.map((id) => this.history.commit(id)).filter((c): c is CommitInfo => c !== null);
  }

  override count(include: readonly string[], exclude: readonly string[] = []): number {
    return this.history.between(include, exclude).length;
  }

  override commit(sha: string): CommitInfo | null {
    return this.history.commit(sha);
  }

  override mainline(tip: string, exclude: readonly string[]): { segment: MainlineCommit[]; boundary: MainlineCommit | null } {
    return this.history.mainline(tip, exclude);
  }

  override mainlineNewest(tip: string, exclude: readonly string[], limit: number): MainlineCommit[] {
    return this.history.mainline(tip, exclude).segment.slice(-limit);
  }

  override onMainline(sha: string, tip: string): boolean {
    return this.history.onMainline(sha, tip);
  }

  /** Two different Bazaar revisions are not known to hold the same tree without reading both. */
  override sameTree(a: string, b: string): boolean {
    return a === b;
  }

  /**
   * Bazaar's trees are not read here, so a cherry-pick's message, a claim
   * anyone can write, is never confirmed: a fix comes back through ancestry.
   */
  override changeContained(): boolean {
    return false;
  }

  /** Bazaar has no patch-id; fixes come back through ancestry. */
  override patchIds(): Map<string, string> {
    return new Map();
  }

  override ancestry(ancestor: string, descendant: string): "yes" | "no" | "unknown" {
    if (!this.history.has(ancestor)) return "unknown";
    return this.history.isAncestor(ancestor, descendant) ? "yes" : "no";
  }

  override parentsOf(sha: string): string[] {
    return this.commitsNoWalk([sha])[0]?.parents ?? [];
  }

  /** Only what the callers ask: the merge base of two revisions, one of which holds the other; else none. */
  override mergeBase(a: string, b: string): string | null {
    if (this.history.isAncestor(a, b)) return a;
    if (this.history.isAncestor(b, a)) return b;
    return null;
  }

  override updateRef(ref: string, target: string, old: string, _message: string): boolean {
    const branch = this.branchOf(ref);
    if (branch === null || !this.history.has(target)) throw new UserError(`cannot point ${ref} at ${target} in a Bazaar repository`, 1);
    const current = this.history.tips.get(branch) ?? null;
    const expected = old === "" ? null : old;
    if (current !== expected) return false;
    const revno = this.history.revno(target);
    if (branch === this.lockedBranch) {
      this.deferred.push({ branch, old: expected, new: target, revno });
    } else {
      if (!setTip(this.root, branch, revno, target, expected)) {
        // Someone else moved it: read the repository again so the caller's retry sees the new tips.
        this.loaded = this.load();
        return false;
      }
    }
    this.history.tips.set(branch, target);
    return true;
  }
}
