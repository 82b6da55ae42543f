import { fileStamp, readStamped, writeStamped } from "../files";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import type { CommitInfo, MainlineCommit } from "../policy/types";
import { UserError } from "../errors";
import { COMMIT_FORMAT, type ParsedCommit, parseCommits, parsePatchIds, parseRefTips } from "./parse";
import { type FollowUp, Git, type GitQuery } from "./run";

/** Revision numbers already counted, keyed by commit (see Store). */
export interface RevnoCache {
  knownRevnos(shas: readonly string[]): Map<string, number>;
  rememberRevno(sha: string, revno: number): void;
}

/** How far back along the first-parent chain revno() looks for a commit it already knows. */
const REVNO_LOOKBACK = 1000;

/**
 * The git commands behind Repo's questions, so that a caller can hand them to
 * Git.prefetch() and have them answered together in one process.
 */
export const queries = {
  refTips: (refs: readonly string[]): GitQuery => [["for-each-ref", "--format=%(refname)%00%(objectname)", "--", ...refs]],
  objectType: (sha: string): GitQuery => [["cat-file", "-t", sha]],
  isAncestor: (ancestor: string, descendant: string): GitQuery => [["merge-base", "--is-ancestor", ancestor, descendant]],
  mainline: (tip: string, exclude: readonly string[]): GitQuery => [
    ["log", "-z", "--first-parent", "--boundary", COMMIT_FORMAT, tip, "--not", ...exclude, "--"],
  ],
  mainlineTo: (sha: string, ref: string): GitQuery => [["log", "-z", "--first-parent", COMMIT_FORMAT, ref, "--not", `${sha}^@`, "--"]],
  leftRight: (old: string, now: string): GitQuery => [["log", "-z", "--left-right", COMMIT_FORMAT, `${old}...${now}`, "--"]],
  commits: (include: readonly string[], exclude: readonly string[], opts: { limit?: number; noMerges?: boolean } = {}): GitQuery => {
    const args = ["log", "-z", COMMIT_FORMAT];
    if (opts.limit !== undefined) args.push(`--max-count=${opts.limit}`);
    if (opts.noMerges) args.push("--no-merges");
    return [[...args, ...include, "--not", ...exclude, "--"]];
  },
  patchIds: (include: readonly string[], exclude: readonly string[]): GitQuery => [
    ["log", "-p", "--no-merges", "--format=commit %H", ...include, "--not", ...exclude, "--"],
    ["patch-id", "--stable"],
  ],
};

/** Typed questions to one git repository. Every name passed here has been checked by the caller. */
/** The C locale, for a git whose messages are read: LC_ALL=C makes gettext ignore LANGUAGE too. */
const ENGLISH = { LC_ALL: "C" };

export class Repo {
  readonly git: Git;
  /** Set by the engine: makes revno() cost the distance to a known commit instead of the whole history. */
  revnoCache: RevnoCache | null = null;

  /** `git` is given only by another history (Bazaar), whose configuration lives in a file of its own. */
  constructor(
    readonly gitDir: string,
    git?: Git,
  ) {
    this.git = git ?? new Git(gitDir);
  }

  /** The directory the admin command names this repository by (--repo). */
  get location(): string {
    return this.gitDir;
  }

  /** Whether the mirror can merge into production-stable without a work tree. */
  get mergesWithoutWorktree(): boolean {
    return true;
  }

  /**
   * Whether changeContained() reads the tree: then a "no" means the change is
   * not there. Bazaar's history reads no trees, and its "no" means only "not confirmed".
   */
  get readsTrees(): boolean {
    return true;
  }

  /**
   * The `git patch-id --stable` of the change that undoes `fix` (its diff
   * reversed): a commit that reverts the fix has it. Null for an empty change or a root commit.
   */
  revertPatchId(fix: string): string | null {
    // From the fix's tree to its parent's: the names keep git's a/ b/ prefixes, which -R would swap (and patch-id hashes).
    const r = this.git.run(["diff-tree", "-p", "--no-commit-id", fix, `${fix}^`, "--"], { okStatuses: [128] });
    const diff = r.status === 0 ? r.stdout : "";
    if (diff.trim() === "") return null;
    const out = this.git.out(["patch-id", "--stable"], { input: `commit ${fix}\n${diff}\n` });
    return out.split(/\s+/)[0] || null;
  }

  /** Compare-and-swap a branch: false when it is no longer at `old` ("" = must not exist). */
  updateRef(ref: string, target: string, old: string, message: string): boolean {
    // With a reflog of the ref (created by the first move, kept by git for every later one),
    // crash recovery can prove which moves were prodgate's.
    // Git's and the C library's messages in English (C locale), whatever the caller's: their words are read below.
    const r = this.git.run(["update-ref", "--create-reflog", "-m", message, ref, target, old], { okStatuses: [1, 128], env: ENGLISH });
    // A file of the ref or its reflog this user may not write (left by another user, root included)
    // is no lost race: retrying cannot help, so it is said as git says it.
    if (r.status !== 0 && /Permission denied/.test(r.stderr)) {
      const why =
        r.stderr
          .split("\n")
          .find((line) => /Permission denied/.test(line))
          ?.trim() ?? "Permission denied";
      throw new UserError(
        `${ref} cannot be moved: ${why}; files in the repository belong to another user: give them back to the repository's owner (chown) and run prodgate as that user`,
        1,
      );
    }
    return r.status === 0;
  }

  /** Do two commits hold the same tree? */
  sameTree(a: string, b: string): boolean {
    const trees = this.git.out(["rev-parse", `${a}^{tree}`, `${b}^{tree}`]).split("\n");
    return trees[0] === trees[1];
  }

  /**
   * Does the tree of `tip` hold the change `fix` made? It does when the fix's
   * diff applies in reverse to that tree: a scratch index read from the tip
   * (a temporary file, so it works in a bare repository and inside
   * pre-receive's quarantine) and `git apply --cached --check -R`, which
   * changes nothing.
   */
  changeContained(fix: string, tip: string): boolean {
    return this.diffContained(this.git.run(["diff-tree", "-p", "--binary", "--no-commit-id", "--root", fix]).stdout, tip);
  }

  /**
   * Does `tip` hold `fix`'s change where the fix made it? For each text file
   * the fix changed, merging the fix into tip's file (three ways, from the
   * fix's parent) changes nothing and conflicts nowhere. A merge aligns the
   * files by their differences: unlike git apply (changeContained), it never
   * takes a copy of the fixed lines elsewhere in the file for the change, and
   * a line changed next to the fix does not hide it. A binary file or a file
   * that is not UTF-8 is left to git apply's check. Each path must also hold
   * what the fix left there: the same kind of entry (a file, a symbolic link,
   * a submodule at the fix's very commit), the mode the fix gave it, nothing
   * where the fix deleted it. One `git ls-tree` reads tip's entries: a file
   * still as the fix left it, or as it was before the fix, needs no merge.
   */
  changeMergedIn(fix: string, tip: string): boolean {
    // What a commit changed never changes: asked once per process (the mirror tries up to nine tips).
    let diff = this.fixChanges.get(fix);
    if (diff === undefined) {
      diff = this.git.run(["diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", "--root", fix]).stdout;
      this.fixChanges.set(fix, diff);
    }
    const raw = diff.split("\0");
    const zero = /^0+$/;
    const kind = (mode: string) => (mode === "160000" ? "submodule" : mode === "120000" ? "symlink" : "file");
    const changes: { path: string; oldMode: string; newMode: string; base: string; theirs: string }[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      // ":<old mode> <new mode> <old object> <new object> <status>", then the path.
      const [oldMode, newMode, base, theirs] = raw[i]!.slice(1).split(" ");
      if (oldMode && newMode && base && theirs) changes.push({ path: raw[i + 1]!, oldMode, newMode, base, theirs });
    }
    if (changes.length === 0) return true;
    const entries = this.entriesAt(
      tip,
      changes.map((c) => c.path),
    );
    if (entries === null) return false;
    const toMerge: { base: string; theirs: string; ours: string }[] = [];
    for (const c of changes) {
      const entry = entries.get(c.path);
      // Two entries git named alike (bytes that are not UTF-8): which one the fix's is cannot be told.
      if (entry === "ambiguous") return false;
      if (zero.test(c.theirs)) {
        if (entry) return false; // the fix deleted it, and tip has it again
        continue;
      }
      if (!entry || kind(entry.mode) !== kind(c.newMode)) return false;
      if (c.oldMode !== c.newMode && !zero.test(c.oldMode) && entry.mode !== c.newMode) return false;
      if (entry.oid === c.theirs) continue;
      if (kind(c.newMode) === "submodule" || entry.oid === c.base) return false;
      toMerge.push({ base: c.base, theirs: c.theirs, ours: entry.oid });
    }
    if (toMerge.length === 0) return true;
    // Set when some part of the change is not text a merge can judge: then git apply's check decides too.
    let applyToo = false;
    const blob = (name: string) => {
      const r = this.git.run(["cat-file", "blob", name], { okStatuses: [128] });
      return r.status === 0 ? r.stdout : null;
    };
    const dir = mkdtempSync(join(tmpdir(), "prodgate-merge-"));
    try {
      for (const f of toMerge) {
        // A merge of three blobs gives what it gave before: each is asked of git once per process.
        const key = `${f.base} ${f.theirs} ${f.ours}`;
        const known = this.mergedClean.get(key);
        if (known === false) return false;
        if (known === true) continue;
        const ours = blob(f.ours);
        const texts = [ours, zero.test(f.base) ? "" : blob(f.base), blob(f.theirs)];
        // Not text (or not UTF-8): git apply's check of the whole blob decides.
        if (texts.some((t) => t === null || t.includes("\0") || t.includes("\uFFFD"))) {
          applyToo = true;
          continue;
        }
        const names = ["ours", "base", "theirs"].map((n) => join(dir, n));
        texts.forEach((t, i) => writeFileSync(names[i]!, t!));
        const merged = this.git.run(["merge-file", "-p", ...names], { okStatuses: Array.from({ length: 255 }, (_, i) => i + 1) });
        const clean = merged.status === 0 && merged.stdout === ours;
        this.mergedClean.set(key, clean);
        if (!clean) return false;
      }
      return !applyToo || this.changeContained(fix, tip);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The raw diff-tree of each fix changeMergedIn was asked about. */
  private readonly fixChanges = new Map<string, string>();
  /** "base theirs ours" blob ids → whether merging theirs into ours from base left ours as it was, without a conflict. */
  private readonly mergedClean = new Map<string, boolean>();

  /**
   * tip's entries (mode and object) at these paths, from one `git ls-tree`;
   * a path where tip holds no entry, or a directory, is missing. Paths git
   * gave as bytes that are not UTF-8 (read with U+FFFD), or too many for one
   * command line, are found in a listing of the whole tree; two entries read
   * alike are "ambiguous". Null when git cannot read tip.
   */
  private entriesAt(tip: string, paths: readonly string[]): Map<string, { mode: string; oid: string } | "ambiguous"> | null {
    const wanted = new Set(paths);
    const named = paths.every((p) => !p.includes("\uFFFD")) && paths.reduce((n, p) => n + p.length + 1, 0) < 64 * 1024;
    const args = named
      ? ["--literal-pathspecs", "ls-tree", "-z", "--full-tree", tip, "--", ...wanted]
      : ["ls-tree", "-r", "-z", "--full-tree", tip];
    const r = this.git.run(args, { okStatuses: [128] });
    if (r.status !== 0) return null;
    const entries = new Map<string, { mode: string; oid: string } | "ambiguous">();
    for (const line of r.stdout.split("\0")) {
      // "<mode> <type> <object>\t<path>"
      const tab = line.indexOf("\t");
      if (tab < 0) continue;
      const path = line.slice(tab + 1);
      const [mode, type, oid] = line.slice(0, tab).split(" ");
      if (!wanted.has(path) || !mode || !oid || type === "tree") continue;
      entries.set(path, entries.has(path) ? "ambiguous" : { mode, oid });
    }
    return entries;
  }

  /** Does `tip`'s tree hold the change of `diff` (a patch): does it apply in reverse there? */
  diffContained(diff: string, tip: string): boolean {
    if (diff.trim() === "") return true;
    const dir = mkdtempSync(join(tmpdir(), "prodgate-apply-"));
    try {
      const env = { GIT_INDEX_FILE: join(dir, "index") };
      this.git.run(["read-tree", tip], { env });
      return this.git.run(["apply", "--cached", "--check", "-R"], { env, input: diff, okStatuses: [1, 128] }).status === 0;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** patch-id (git patch-id --stable) of every non-merge commit in include ^exclude. */
  patchIds(include: readonly string[], exclude: readonly string[]): Map<string, string> {
    const [log, patchId] = queries.patchIds(include, exclude);
    const prefetched = this.git.take([log!, patchId!]);
    if (prefetched) return parsePatchIds(prefetched.stdout);
    const diff = this.git.out(log!);
    if (diff.trim() === "") return new Map();
    return parsePatchIds(this.git.out(patchId!, { input: `${diff}\n` }));
  }

  static discover(dir: string): Repo {
    const git = new Git(dir);
    // In English: the admin command reads git's refusal of a repository another user owns.
    const gitDir = git.out(["rev-parse", "--absolute-git-dir"], { env: ENGLISH });
    return new Repo(gitDir);
  }

  /** Inside a hook git names the repository in GIT_DIR: finding it needs no git process. */
  static forHook(cwd: string, env: NodeJS.ProcessEnv): Repo {
    return env.GIT_DIR ? new Repo(resolve(cwd, env.GIT_DIR)) : Repo.discover(cwd);
  }

  /**
   * Why this git cannot serve prodgate, or null when it can: the mirror needs
   * `merge-tree --write-tree` (git 2.38).
   */
  versionProblem(): string | null {
    const out = this.gitVersion();
    const m = /(\d+)\.(\d+)/.exec(out);
    if (m && (Number(m[1]) > 2 || (Number(m[1]) === 2 && Number(m[2]) >= 38))) return null;
    return `${out || "git"} is too old: prodgate needs git 2.38 or newer (merge-tree --write-tree); upgrade git on the server`;
  }

  /**
   * `git --version`, kept in prodgate/git-version while the git found on PATH
   * is the same file (inode, size, modification time): the hooks ask on every
   * push, and an upgrade of git replaces the file.
   */
  private gitVersion(): string {
    const cache = join(this.gitDir, "prodgate", "git-version");
    const dirs = (process.env.PATH ?? "").split(delimiter);
    const stamp = dirs.map((dir) => fileStamp(join(dir || ".", "git"))).find((s) => s !== null) ?? null;
    const cached = readStamped(cache, stamp)?.trim();
    if (cached) return cached;
    const out = this.git.run(["--version"], { okStatuses: [1, 128, 129] }).stdout.trim();
    if (stamp && /^git version /.test(out)) writeStamped(cache, stamp, `${out}\n`);
    return out;
  }

  /**
   * Is `ancestor` in the history of `descendant`? "unknown" when git cannot
   * read `ancestor` (a commit whose push never landed).
   */
  ancestry(ancestor: string, descendant: string): "yes" | "no" | "unknown" {
    const status = this.git.run(queries.isAncestor(ancestor, descendant)[0]!, { okStatuses: [1, 128] }).status;
    return status === 0 ? "yes" : status === 1 ? "no" : "unknown";
  }

  /** The parents of one commit, asked of git directly (never from an answer asked ahead). */
  parentsOf(sha: string): string[] {
    return this.git.out(["rev-list", "--no-walk", "--parents", sha]).split(/\s+/).slice(1);
  }

  /** The best common ancestor of two commits, or null when they share no history. */
  mergeBase(a: string, b: string): string | null {
    const r = this.git.run(["merge-base", a, b], { okStatuses: [1] });
    return r.status === 0 ? r.stdout.trim() || null : null;
  }

  /**
   * Ask git, in one process, the `queries` and then `follow` (see FollowUp):
   * the calls that ask the same questions later are answered from it. False
   * when this history cannot, or when a hook's shim has already asked ahead
   * (its mainline by sha would only be asked again).
   */
  prefetchMainline(queries: readonly GitQuery[], follow: FollowUp): boolean {
    if (this.git.preloaded) return false;
    this.git.prefetch(queries, follow);
    return true;
  }

  /** Tips of the given refs (absent refs are left out), in one process. */
  refTips(refs: readonly string[]): Map<string, string> {
    const out = this.git.out(queries.refTips(refs)[0]!);
    const tips = new Map<string, string>();
    for (const { ref, sha } of parseRefTips(out)) if (refs.includes(ref)) tips.set(ref, sha);
    return tips;
  }

  /**
   * `sha` itself when it is a commit whose revno is already known (only
   * commits get one), which answers "is this a commit?" with no git process:
   * pre-receive counts a verdict tag's commit, post-receive then needs no git.
   */
  knownCommit(sha: string): string | null {
    return this.revnoCache?.knownRevnos([sha]).has(sha) ? sha : null;
  }

  /** The commit a name resolves to, or null. */
  resolveCommit(name: string): string | null {
    const r = this.git.run(["rev-parse", "--verify", "--quiet", "--end-of-options", `${name}^{commit}`], {
      okStatuses: [1, 128],
    });
    return r.status === 0 ? r.stdout.trim() : null;
  }

  /**
   * Answers learnt ahead for pushes (see prefetchUpdates): object types,
   * ancestry, and the commits of `new ^old`, keyed by the question.
   */
  private readonly learnt = {
    types: new Map<string, string>(),
    ancestry: new Map<string, boolean>(),
    ranges: new Map<string, CommitInfo[]>(),
  };

  /**
   * Ask git, in one process, everything a push's updates (old → new) raise:
   * one `git log --left-right old...new` per update tells whether new is a
   * commit (it is listed), whether it fast-forwards (nothing on the left) and
   * which commits it adds (the right), which would otherwise be three
   * processes; `extra` queries ride along for later calls. An update the log
   * cannot settle (a tag, a rewind) is simply asked again later.
   */
  prefetchUpdates(updates: readonly { old: string; new: string }[], extra: readonly GitQuery[] = [], follow?: FollowUp): void {
    const logs = updates.map((u) => ({ ...u, query: queries.leftRight(u.old, u.new) }));
    this.git.prefetch([...logs.map((l) => l.query), ...extra], follow);
    for (const l of logs) {
      const out = this.git.take(l.query);
      if (!out) continue;
      const commits = parseCommits(out.stdout);
      const right = commits.filter((c) => c.mark === ">").map(({ mark: _m, ...c }) => c);
      if (!right.some((c) => c.sha === l.new)) continue;
      this.learnt.types.set(l.new, "commit");
      const fastForward = !commits.some((c) => c.mark === "<");
      this.learnt.ancestry.set(`${l.old} ${l.new}`, fastForward);
      if (fastForward) this.learnt.ranges.set(`${l.new} ^${l.old}`, right);
    }
  }

  objectType(sha: string): string | null {
    const known = this.learnt.types.get(sha);
    if (known) return known;
    const r = this.git.run(queries.objectType(sha)[0]!, { okStatuses: [1, 128] });
    return r.status === 0 ? r.stdout.trim() : null;
  }

  /** Which of these object ids the repository holds, from one `git cat-file --batch-check`. */
  objectsPresent(shas: readonly string[]): Set<string> {
    const present = new Set<string>();
    if (shas.length === 0) return present;
    const asked = new Set(shas);
    const r = this.git.run(["cat-file", "--batch-check=%(objectname) %(objecttype)"], { input: `${shas.join("\n")}\n` });
    for (const line of r.stdout.split("\n")) {
      const [sha, type] = line.split(" ");
      if (sha && type && type !== "missing" && asked.has(sha)) present.add(sha);
    }
    return present;
  }

  isAncestor(ancestor: string, descendant: string): boolean {
    const known = this.learnt.ancestry.get(`${ancestor} ${descendant}`);
    if (known !== undefined) return known;
    return this.git.run(queries.isAncestor(ancestor, descendant)[0]!, { okStatuses: [1] }).status === 0;
  }

  /** Is `sha` in the history of `ref`? False when the ref does not exist (or git cannot tell). */
  isAncestorOfRef(sha: string, ref: string): boolean {
    return this.git.run(queries.isAncestor(sha, ref)[0]!, { okStatuses: [1, 128] }).status === 0;
  }

  /** Position on the first-parent chain counted from the root (revno 1). */
  revno(sha: string): number {
    const cache = this.revnoCache;
    if (!cache) return Number(this.git.out(["rev-list", "--first-parent", "--count", sha]));
    const hit = cache.knownRevnos([sha]).get(sha);
    if (hit !== undefined) return hit;
    const chain = this.git
      .out(["rev-list", "--first-parent", `--max-count=${REVNO_LOOKBACK}`, sha, "--"])
      .split("\n")
      .filter(Boolean);
    const known = cache.knownRevnos(chain);
    let revno = chain.findIndex((c) => known.has(c));
    if (revno >= 0) revno = known.get(chain[revno]!)! + revno;
    else if (chain.length < REVNO_LOOKBACK) revno = chain.length;
    else revno = Number(this.git.out(["rev-list", "--first-parent", "--count", sha]));
    cache.rememberRevno(sha, revno);
    return revno;
  }

  /**
   * Remember `now`'s revno from `old`'s, when `added` (the commits of now ^old)
   * lead from one to the other by first parents: no git process needed.
   */
  learnRevno(old: string, now: string, added: readonly CommitInfo[]): void {
    const cache = this.revnoCache;
    const base = cache?.knownRevnos([old]).get(old);
    if (!cache || base === undefined) return;
    const bySha = new Map(added.map((c) => [c.sha, c]));
    let steps = 0;
    for (let at: string | undefined = now; at !== old; steps++) {
      const c: CommitInfo | undefined = at ? bySha.get(at) : undefined;
      if (!c) return;
      at = c.parents[0];
    }
    cache.rememberRevno(now, base + steps);
  }

  /** Commits reachable from `include` but none of `exclude`, newest first. */
  commits(include: readonly string[], exclude: readonly string[] = [], opts: { limit?: number; noMerges?: boolean } = {}): CommitInfo[] {
    if (include.length === 1 && exclude.length === 1 && opts.limit === undefined && !opts.noMerges) {
      const known = this.learnt.ranges.get(`${include[0]} ^${exclude[0]}`);
      if (known) return known;
    }
    return parseCommits(this.git.out(queries.commits(include, exclude, opts)[0]!)).map(({ mark: _mark, ...c }) => c);
  }

  /** Metadata of exactly these commits, in the order given. */
  commitsNoWalk(shas: readonly string[]): CommitInfo[] {
    if (shas.length === 0) return [];
    const out = this.git.out(["log", "-z", "--no-walk=unsorted", COMMIT_FORMAT, ...shas, "--"]);
    return parseCommits(out).map(({ mark: _mark, ...c }) => c);
  }

  count(include: readonly string[], exclude: readonly string[] = []): number {
    return Number(this.git.out(["rev-list", "--count", ...include, "--not", ...exclude, "--"]));
  }

  /** One commit's metadata. */
  commit(sha: string): CommitInfo | null {
    return this.commits([sha], [], { limit: 1 })[0] ?? null;
  }

  /**
   * The first-parent chain of `tip` not reachable from `exclude`, oldest first,
   * with revnos; plus the mainline commit just before it (the boundary).
   */
  mainline(tip: string, exclude: readonly string[]): { segment: MainlineCommit[]; boundary: MainlineCommit | null } {
    const parsed = parseCommits(this.git.out(queries.mainline(tip, exclude)[0]!));
    const chain = parsed.filter((c) => c.mark !== "-");
    if (chain.length === 0) {
      const tipCommit = this.commit(tip);
      return { segment: [], boundary: tipCommit ? { ...tipCommit, revno: this.revno(tipCommit.sha) } : null };
    }
    const tipRevno = this.revno(chain[0]!.sha);
    // Oldest first, each commit numbered down from the tip (a loop: thousands of commits per walk).
    const segment: MainlineCommit[] = new Array<MainlineCommit>(chain.length);
    for (let i = 0, last = chain.length - 1; i <= last; i++) {
      const c = chain[i]!;
      segment[last - i] = { sha: c.sha, parents: c.parents, subject: c.subject, message: c.message, revno: tipRevno - i };
    }
    const oldest = segment[0]!;
    const parentSha = oldest.parents[0];
    const boundaryCommit = parentSha ? parsed.find((c) => c.mark === "-" && c.sha === parentSha) : undefined;
    const boundary = boundaryCommit ? (({ mark: _m, ...c }) => ({ ...c, revno: oldest.revno - 1 }))(boundaryCommit) : null;
    return { segment, boundary };
  }

  /** At most `limit` of the newest commits of the first-parent chain of `tip` not reachable from `exclude`, oldest first, with revnos. */
  mainlineNewest(tip: string, exclude: readonly string[], limit: number): MainlineCommit[] {
    const parsed = parseCommits(
      this.git.out(["log", "-z", "--first-parent", `--max-count=${limit}`, COMMIT_FORMAT, tip, "--not", ...exclude, "--"]),
    );
    if (parsed.length === 0) return [];
    const tipRevno = this.revno(parsed[0]!.sha);
    return parsed.map(({ mark: _m, ...c }, i) => ({ ...c, revno: tipRevno - i })).reverse();
  }

  /**
   * `sha`'s commit and revno when it is on the first-parent chain of `ref`,
   * else null, from one `git log`: the chain of `ref` down to `sha`'s parents
   * ends with `sha` exactly when it is on it. Costs the distance from the tip,
   * and counts nothing when the tip's revno is known.
   */
  mainlineCommit(sha: string, ref: string): MainlineCommit | null {
    const chain = this.chainDownTo(sha, ref);
    if (!chain) return null;
    const last = chain[chain.length - 1]!;
    const revno = this.revno(chain[0]!.sha) - (chain.length - 1);
    this.revnoCache?.rememberRevno(sha, revno);
    const { mark: _m, ...c } = last;
    return { ...c, revno };
  }

  /** Is `sha` on the first-parent chain of `tip`? Costs the distance from tip to sha. */
  onMainline(sha: string, tip: string): boolean {
    return this.chainDownTo(sha, tip) !== null;
  }

  /** The first-parent chain of `ref` down to `sha`, newest first, or null when `sha` is not on it. */
  private chainDownTo(sha: string, ref: string): ParsedCommit[] | null {
    const r = this.git.run(queries.mainlineTo(sha, ref)[0]!, { okStatuses: [128] });
    if (r.status !== 0) return null;
    const chain = parseCommits(r.stdout);
    return chain.length > 0 && chain[chain.length - 1]!.sha === sha ? chain : null;
  }
}
