import { droppedFixes, fixBase, fixesToCheck, type RequiredFix } from "../policy/fixes";
import type { Engine } from "./state";

/** What a tip of production-stable does with the recorded security fixes. */
export interface FixesAtTip {
  /** Fixes not retired whose change the tip does not hold. */
  dropped: RequiredFix[];
  /** Fixes not retired whose change the tip holds (verified, or with their paths unchanged since a verified commit). */
  held: RequiredFix[];
  /** What git said of fixes whose paths were not known yet: the paths their commits changed, or "absent" (for Store.setFixPaths). */
  learnt: Map<string, string[] | "absent">;
}

const none = (): FixesAtTip => ({ dropped: [], held: [], learnt: new Map() });

/** The fixes production-stable must keep: recorded and not retired. */
export function requiredFixes(engine: Engine): RequiredFix[] {
  return engine.store
    .fixes()
    .filter((f) => !f.retired)
    .map((f) => ({ sha: f.sha, subject: f.subject, retired: false, heldAt: f.heldAt ?? null, paths: f.paths ?? null }));
}

/**
 * Does `tip` (a commit production-stable would move to) hold the change of
 * every required fix? One git process answers the usual case: the paths each
 * fix touched and the paths that differ between each fix's base (the commit
 * it was last verified held at, else the fix itself) and the tip. Only a fix
 * whose paths differ gets the content check mergeback uses (changeMergedIn).
 * A fix whose commit the repository does not hold is skipped. A history whose
 * trees are not read (Bazaar) counts ancestry alone, and production-stable
 * never loses a commit: nothing to check there.
 */
export function fixesAtTip(engine: Engine, tip: string, fixes: readonly RequiredFix[] = requiredFixes(engine)): FixesAtTip {
  const { repo } = engine;
  // A fix whose commit the repository was found to lack (an old database) is skipped, as below.
  const active = fixes.filter((f) => !f.retired && f.paths !== "absent");
  if (active.length === 0 || !repo.readsTrees) return none();
  const { paths, changed, failed } = pathFacts(engine, active, tip);
  const { check, unchanged, missing } = fixesToCheck(active, paths, changed);
  const learnt = new Map<string, string[] | "absent">();
  // Kept only from git's own answer (on a failure every fix was taken as touching nothing known).
  for (const f of failed ? [] : active) {
    const p = paths.get(f.sha);
    if (!Array.isArray(f.paths) && p !== undefined) learnt.set(f.sha, [...p]);
  }
  // A fix git gave no answer for is skipped only when the repository really lacks its commit (an old
  // database); anything else git left unsaid is checked, never taken as held.
  const present = repo.objectsPresent(missing.map((f) => f.sha));
  for (const f of missing) {
    if (present.has(f.sha)) check.push(f);
    else if (!failed) learnt.set(f.sha, "absent");
  }
  const heldNow = new Set(check.filter((f) => repo.changeMergedIn(f.sha, tip)).map((f) => f.sha));
  const dropped = droppedFixes(check, heldNow);
  return { dropped, held: [...unchanged, ...check.filter((f) => heldNow.has(f.sha))], learnt };
}

/**
 * One `git diff-tree --stdin`: each fix whose paths are not known yet alone
 * (the paths it touched; a fix's commit never changes, so once known they are
 * kept), then each base paired with the tip (the paths that differ). `--always` prints a
 * header (the line's first id) for every line git can read, so a line with
 * no header names an object the repository lacks. Raw records (`:modes ids
 * status`, then the path) cannot be taken for a header, whatever a path is named.
 */
function pathFacts(
  engine: Engine,
  fixes: readonly RequiredFix[],
  tip: string,
): { paths: Map<string, readonly string[]>; changed: Map<string, Set<string> | null>; failed: boolean } {
  const bases = [...new Set(fixes.map(fixBase))];
  const unknown = fixes.filter((f) => !Array.isArray(f.paths));
  const lines = [...unknown.map((f) => ({ key: f.sha, pair: false })), ...bases.map((b) => ({ key: b, pair: true }))];
  const input = lines.map((l) => (l.pair ? `${l.key} ${tip}` : l.key)).join("\n");
  const r = engine.repo.git.run(["diff-tree", "--stdin", "--always", "-r", "-z", "--raw", "--no-renames", "--root"], {
    input: `${input}\n`,
    okStatuses: [1, 128],
  });
  const paths = new Map<string, readonly string[]>();
  for (const f of fixes) if (Array.isArray(f.paths)) paths.set(f.sha, f.paths);
  const changed = new Map<string, Set<string> | null>(bases.map((b) => [b, null]));
  if (r.status !== 0) {
    // git could not answer: every fix is taken to exist and to be touched, so each gets the content check.
    for (const f of unknown) paths.set(f.sha, []);
    return { paths, changed, failed: true };
  }
  const tokens = r.stdout.split("\0");
  let line = -1;
  let current: string[] | Set<string> | null = null;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === "") continue;
    if (token.startsWith(":")) {
      const path = tokens[++i];
      if (path === undefined || current === null) continue;
      if (Array.isArray(current)) current.push(path);
      else current.add(path);
      continue;
    }
    // A header: the next line whose first id it is (lines git could not read print none).
    const header = token.trim().split(" ")[0]!;
    let next = line + 1;
    while (next < lines.length && lines[next]!.key !== header) next++;
    if (next >= lines.length) {
      current = null;
      continue;
    }
    line = next;
    const l = lines[line]!;
    if (l.pair) {
      const set = new Set<string>();
      changed.set(l.key, set);
      current = set;
    } else {
      const list: string[] = [];
      paths.set(l.key, list);
      current = list;
    }
  }
  return { paths, changed, failed: false };
}
