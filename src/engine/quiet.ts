import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { ownDir } from "../store/dirs";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../files";
import { answersDir } from "../git/answers";
import { queries } from "../git/repo";
import type { GitQuery } from "../git/run";
import { couldChangeDeployable } from "../policy/deployable";
import { classifyRef } from "../policy/refs";
import { isZeroSha } from "../policy/types";
import type { RefUpdate } from "./facts";
import { fixReturnsIn, pendingIn } from "./mergeback";
import type { Engine } from "./state";

/**
 * A "quiet note" is how pre-receive tells the post-receive shim that a push
 * leaves post-receive nothing to do, so the shim need not start Node again.
 * The note is prodgate/quiet/<new sha of the push's first line>, holding the
 * push's lines exactly; the shim skips the engine only when its own input is
 * the same. Every accepted push writes its note or removes any note of that
 * name, so a note the shim finds is always this push's own. Notes of pushes
 * that never landed are pruned after an hour. A wrong skip could only delay
 * bookkeeping: `prodgate sync` redoes all of it from the database's marks.
 */
const QUIET_DIR = "quiet";
const STALE_NOTE_MS = 60 * 60 * 1000;

/**
 * For a push pre-receive has accepted: does post-receive have nothing to do?
 * That holds when every governed update is a fast-forward of devel or stable
 * that brings back no pending security fix and, for stable, adds no revision
 * that counts as tested or rolls one back (so what is deployable, and the
 * mirror, cannot change). The merge-back scan of such an update is done here,
 * and its mark moved past it.
 */
export function quietAfterPush(engine: Engine, updates: readonly RefUpdate[]): boolean {
  const { repo, store, config } = engine;
  if (config.reportPath) return false;
  let quiet = true;
  // A stable push's revisions awaiting QA are an event (qa.waiting) for whoever listens.
  const listened = config.events.endpoints.length > 0;
  for (const u of updates) {
    const kind = quietKind(engine, u);
    if (kind === "ungoverned") continue;
    if (kind === null) return false;
    const { commits, returns, disputed, reverted } = fixReturnsIn(repo, pendingIn(engine, kind), u.new, u.old);
    if (returns.length > 0 || disputed.length > 0 || reverted.length > 0) return false;
    // Keeps revision numbers counted for the verdicts that will follow.
    if (kind === "stable") repo.learnRevno(u.old, u.new, commits);
    if (kind === "stable" && listened) quiet = false;
    if (kind === "stable" && couldChangeDeployable(commits, store.latestVerdicts(commits.map((c) => c.sha)))) quiet = false;
    // Everything reachable from the new tip has now been looked at for fixes.
    if (!store.advanceScanMark(kind, u.old, u.new)) quiet = false;
  }
  return quiet;
}

/** The git questions quietAfterPush() will ask beyond the updates' own commits, for Git.prefetch(). */
export function quietPlan(engine: Engine, updates: readonly RefUpdate[]): GitQuery[] {
  if (engine.config.reportPath) return [];
  const planned: GitQuery[] = [];
  for (const u of updates) {
    const kind = quietKind(engine, u);
    if ((kind === "devel" || kind === "stable") && pendingIn(engine, kind).some((f) => f.patchId)) {
      planned.push(queries.patchIds([u.new], [u.old]));
    }
  }
  return planned;
}

/** What an update is to a quiet push: a fast-forward candidate of devel or stable, not governed, or (null) neither. */
function quietKind(engine: Engine, u: RefUpdate): "devel" | "stable" | "ungoverned" | null {
  const { config } = engine;
  const kind = classifyRef(u.ref, config.branches, config.governed).kind;
  if (kind === "ungoverned") return kind;
  return (kind === "devel" || kind === "stable") && !isZeroSha(u.old) && !isZeroSha(u.new) ? kind : null;
}

/** The note's text: the push's lines as the shim reads them back. */
function quietNoteText(updates: readonly RefUpdate[]): string {
  return updates.map((u) => `${u.old} ${u.new} ${u.ref}\n`).join("");
}

/** Write the push's note when it is quiet, else remove any note under its name. */
export function updateQuietNote(prodgateDir: string, updates: readonly RefUpdate[], quiet: boolean): void {
  if (updates.length === 0) return;
  const dir = join(prodgateDir, QUIET_DIR);
  const path = join(dir, updates[0]!.new);
  if (!quiet) {
    rmSync(path, { force: true });
    return;
  }
  ownDir(dir);
  pruneStale(dir);
  // Answers of hook shims whose Node never read them.
  const answers = answersDir(dirname(prodgateDir));
  if (existsSync(answers)) pruneStale(answers);
  writeFileAtomic(path, quietNoteText(updates));
}

/** Files older than an hour: notes of pushes that never landed or were already read, answers nobody took. */
function pruneStale(dir: string): void {
  const cutoff = Date.now() - STALE_NOTE_MS;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    try {
      if (statSync(path).mtimeMs < cutoff) rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed by another push meanwhile.
    }
  }
}
