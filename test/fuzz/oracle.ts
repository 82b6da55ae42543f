// The invariant checker. It judges the repository from git (replace objects
// off) and prodgate's database read directly, with its own walk of SPEC.md's
// rules: nothing here calls prodgate's code or trusts its answers.
import Database from "better-sqlite3";
import { join } from "node:path";
import type { Actor, Outcome, World } from "./world";

export type Invariant = "a" | "b" | "c" | "d" | "e" | "f" | "g";

export const INVARIANTS: Record<Invariant, string> = {
  a: "production-stable holds only approved stable content, tested promotions, mirror merges or audited overrides",
  b: "a governed branch never loses a commit",
  c: "a revno, once shown, never names another commit",
  d: "every change of a governed ref is in the audit log",
  e: "no push or command runs longer than the bound",
  f: "a freeze stops every move of production-stable but promotions and overrides",
  g: "prodgate sync succeeds (or reports a blocked mirror) after any crash",
};

export interface Violation {
  inv: Invariant;
  what: string;
}

export interface Snapshot {
  devel: Set<string>;
  stable: Set<string>;
  pdev: Set<string>;
  prod: Set<string>;
  /** stable's first-parent chain, oldest first (r1 first). */
  mainline: string[];
  badRevnos: number[];
  frozen: boolean;
  /** Commits of the newest deployable revision that production-stable lacks. */
  ahead: Set<string>;
  /** Tickets that mainline revisions not in production reference. */
  pendingTickets: string[];
  /** Revnos of those revisions. */
  ticketRevnos: number[];
  /** Revnos of pending mainline revisions marked [incr], trusted or not. */
  incrRevnos: number[];
  /** Revnos of those that reference a ticket an earlier one marked [incr] (trusted or not) references: its next landings. */
  incrFollowers: number[];
}

/** What happened between two checks. */
export interface Interval {
  /** A ci-role actor pushed in it: commits new on devel or stable may carry trusted markers. */
  ciPushed: boolean;
  outcomes: Outcome[];
  /** Concurrent actions: a verdict given or changed during the interval may have counted either way. */
  concurrent: boolean;
}

interface Commit {
  parents: string[];
  tree: string;
  author: string;
  message: string;
}

/** A verdict that counts, with the ticket it came through (null: given to the revision) and whether it came during a concurrent interval. */
interface VerdictRow {
  verdict: string;
  ticket: string | null;
  during: boolean;
}

interface AuditRow {
  id: number;
  user: string | null;
  ref: string | null;
  old: string | null;
  new: string | null;
  decision: string;
  code: string | null;
}

const BRANCHES = ["devel", "stable", "production-devel", "production-stable"].map((b) => `refs/heads/${b}`);
const [DEVEL, STABLE, PDEV, PROD] = BRANCHES as [string, string, string, string];
const ROBOT = "prodgate <prodgate@localhost>";
const NO_QA = /\[(no-qa|testfix)\]/i;
const INCR = /\[(incr|incremental)\]/i;
const ROLLBACK = /\[rollback=\s*r?([0-9a-f]+)\s*\]/gi;
/**
 * Ticket references as README.md's "QA by ticket" lists the defaults:
 * `[bug=N]`, `[bug=N,M]` (blanks inside, `[bugs=…]`), `LP: #N` (and `LP: #N, #M`),
 * `Fixes #N` / `Closes #N`. The generator writes these shapes only.
 */
const TICKETS: [RegExp, (m: RegExpMatchArray) => string[]][] = [
  [/\[bugs?\s*=\s*([0-9][0-9,\s]*)\]/gi, (m) => m[1]!.split(/[\s,]+/)],
  [/\bLP:\s*(#[0-9]+(?:\s*,\s*#[0-9]+)*)/g, (m) => m[1]!.split(/[\s,#]+/)],
  [/\b(?:Fixes|Closes)\s+#([0-9]+)/gi, (m) => [m[1]!]],
];
/** Audit kinds that record something other than a ref update. */
const EVENTS = new Set(["rejected", "verdict", "ci", "fix", "merge-back", "role", "baseline", "freeze", "thaw"]);
const PASSING = new Set(["ok", "untestable"]);

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 7) : "(none)");
const norm = (sha: string | null) => (!sha || /^0+$/.test(sha) ? "" : sha);
const fullRef = (ref: string) => (ref.startsWith("refs/") ? ref : `refs/heads/${ref}`);

export class Oracle {
  private readonly commits = new Map<string, Commit>();
  private readonly db: Database.Database;
  private readonly users: Record<string, Set<string>>;
  private tips = new Map<string, string>();
  private audit: AuditRow[] = [];
  private verdictMark = 0;
  private frozen = false;
  /** Stable revisions that were deployable (or already in production) at some check. */
  readonly deployable = new Set<string>();
  private readonly allowedProd = new Set<string>();
  /** Commits brought onto devel or stable by a ci-role push: their markers count. */
  private readonly trusted = new Set<string>();
  /** revno → sha of stable's mainline, as shown so far. */
  private readonly shown = new Map<number, string>();
  private readonly revnoChecked = new Set<string>();
  private ancestorCache = new Map<string, Set<string>>();
  private readonly ticketCache = new Map<string, string[]>();
  /** What the run exercised, for its log: [incr] revisions passed with a later landing, ticket verdicts counted and not. */
  private readonly seen = { incrPassed: new Set<string>(), ticketRows: 0, ticketRowsIgnored: 0 };
  /** Where each qa/…/ticket-N tag pointed when first seen: a ticket verdict by tag covers only what QA tested. */
  private readonly tagTargets = new Map<string, string>();

  constructor(
    private readonly world: World,
    actors: Actor[],
    private readonly boundMs = 20_000,
  ) {
    this.db = new Database(join(world.sb.bare, "prodgate", "state.db"), { readonly: true, fileMustExist: true });
    const holders = (role: string) => new Set(actors.filter((a) => a.roles.includes(role as never)).map((a) => a.name));
    this.users = { qa: holders("qa"), ci: holders("ci"), security: holders("security"), admin: holders("admin") };
  }

  /** One line on what the run exercised beyond the invariants themselves. */
  coverage(): string {
    const { incrPassed, ticketRows, ticketRowsIgnored } = this.seen;
    return `tickets: ${ticketRows} ticket verdicts counted, ${ticketRowsIgnored} not (no reference, or beyond the tagged revision); ${incrPassed.size} [incr] revisions passed with a later landing`;
  }

  close(): void {
    this.db.close();
  }

  /** Compare the repository now with the last check; returns what broke. */
  check(iv: Interval): Violation[] {
    const v: Violation[] = [];
    const before = this.tips;
    const now = this.readTips();
    this.readCommits();
    for (const [ref, sha] of now) if (ref.startsWith("refs/tags/qa/") && !this.tagTargets.has(ref)) this.tagTargets.set(ref, sha);
    this.ancestorCache = new Map();
    const fresh = this.db
      .prepare("SELECT id, user, ref, old, new, decision, code FROM audit WHERE id > ? ORDER BY id")
      .all(this.audit.at(-1)?.id ?? 0) as AuditRow[];
    this.audit.push(...fresh);

    for (const o of iv.outcomes) {
      if (!o.killed && o.ms > this.boundMs)
        v.push({ inv: "e", what: `took ${o.ms} ms (bound ${this.boundMs}): ${o.output.slice(0, 300)}` });
    }
    this.checkHistory(before, now, fresh, v);
    this.checkAudit(before, now, v);
    this.learnTrust(before, now, iv);
    this.walk(before.get(PROD) ?? null, now.get(STABLE) ?? null, iv.concurrent);
    this.checkProduction(before, now, fresh, v);
    this.checkRevnos(now, this.overridden(fresh, STABLE), v);
    this.tips = now;
    return v;
  }

  /**
   * (b) and (c): old tips stay, and stay on the first-parent chain, unless an
   * admin's audited break-glass override moved the branch (restoring an older
   * production is what it is for).
   */
  private checkHistory(before: Map<string, string>, now: Map<string, string>, fresh: AuditRow[], v: Violation[]): void {
    for (const ref of BRANCHES) {
      const old = before.get(ref);
      const tip = now.get(ref);
      if (!old || old === tip) continue;
      if (this.overridden(fresh, ref)) continue;
      if (!tip) v.push({ inv: "b", what: `${ref} was deleted (was ${short(old)})` });
      else if (!this.ancestors(tip).has(old))
        v.push({ inv: "b", what: `${ref} moved ${short(old)} → ${short(tip)}, which lacks ${short(old)}` });
      else if (!this.firstParents(tip).includes(old)) {
        const movers = fresh
          .filter((r) => r.ref && fullRef(r.ref) === ref && !EVENTS.has(r.decision))
          .map((r) => `${r.decision} by ${r.user}`);
        v.push({
          inv: "c",
          what: `${ref} moved ${short(old)} → ${short(tip)}: ${short(old)} is not on its first-parent chain (revnos renumbered)${movers.length ? `; audit: ${movers.join(", ")}` : ""}`,
        });
      }
    }
  }

  /** (d): every change of a governed ref is a path of audited updates. */
  private checkAudit(before: Map<string, string>, now: Map<string, string>, v: Violation[]): void {
    const refs = new Set([...before.keys(), ...now.keys()]);
    for (const ref of refs) {
      const from = before.get(ref) ?? "";
      const to = now.get(ref) ?? "";
      if (from === to) continue;
      const edges = this.audit.filter((r) => r.ref && fullRef(r.ref) === ref && !EVENTS.has(r.decision));
      const seen = new Set([from]);
      const queue = [from];
      while (queue.length > 0) {
        const at = queue.shift()!;
        for (const e of edges) {
          const next = norm(e.new);
          if (norm(e.old) === at && !seen.has(next)) {
            seen.add(next);
            queue.push(next);
          }
        }
      }
      if (!seen.has(to))
        v.push({ inv: "d", what: `${ref} changed ${short(from)} → ${short(to)} with no audit row (or chain of rows) for it` });
    }
  }

  /**
   * Markers count on commits a ci-role push brought onto devel, or onto
   * stable when devel did not hold them: advancing stable to someone else's
   * commit vouches for nothing.
   */
  private learnTrust(before: Map<string, string>, now: Map<string, string>, iv: Interval): void {
    if (!iv.ciPushed) return;
    const had = (ref: string) => {
      const old = before.get(ref);
      return old && this.commits.has(old) ? this.ancestors(old) : new Set<string>();
    };
    for (const ref of [DEVEL, STABLE]) {
      const tip = now.get(ref);
      if (!tip || tip === before.get(ref)) continue;
      const known = [had(ref), ...(ref === STABLE ? [had(DEVEL)] : [])];
      for (const c of this.ancestors(tip)) if (!known.some((k) => k.has(c))) this.trusted.add(c);
    }
  }

  /**
   * SPEC.md's walk over stable's mainline, from the newest mainline commit
   * production-stable held before the interval (or an override brought), with
   * verdicts by qa-role users only and markers only where trusted. Every
   * revision at or before the deployable one (and not held for a rollback)
   * joins `deployable`.
   */
  private walk(prodBefore: string | null, stable: string | null, concurrent: boolean): void {
    if (!stable) return;
    const mainline = this.firstParents(stable).reverse();
    const inProd = new Set<string>();
    const roots = [prodBefore, ...this.audit.filter((r) => this.overridden([r], PROD)).map((r) => r.new)];
    for (const root of roots) if (root && this.commits.has(root)) for (const c of this.ancestors(root)) inProd.add(c);
    const baseline = this.setting("baseline");
    let base = -1;
    mainline.forEach((sha, i) => {
      if (inProd.has(sha) || sha === baseline) base = i;
    });
    for (let i = 0; i <= base; i++) this.deployable.add(mainline[i]!);

    const verdicts = this.verdicts(concurrent);
    let holdUntil = -1;
    for (let i = base + 1; i < mainline.length; i++) {
      const sha = mainline[i]!;
      const { passing, bad } = this.judge(mainline, i, verdicts);
      if (!passing) {
        if (!bad) break;
        const y = mainline.findIndex((later, j) => j > i && this.rollsBack(later, sha, i + 1));
        if (y < 0) break;
        holdUntil = Math.max(holdUntil, y);
        continue;
      }
      if (i >= holdUntil) this.deployable.add(sha);
    }
  }

  /**
   * Whether mainline[i] may pass, and whether it may be bad, by README.md's
   * "QA by ticket": a verdict given to the revision speaks for all its
   * tickets, one given through a ticket for that ticket only, and for each
   * ticket the newer word stands; the revision passes only when every ticket
   * does and is bad when any is. With no word (or needstesting) a trusted
   * `[no-qa]` makes a ticket untestable, and a trusted `[incr]` takes the ok
   * or untestable of the next later mainline revision referencing the same
   * ticket that is not itself a counted `[incr]` (waiting otherwise). Markers
   * are trusted only on commits the trusted role brought, never on a merge or
   * a rollback. Concurrently, any value a ticket held during the interval may
   * have counted.
   */
  private judge(mainline: string[], i: number, verdicts: Map<string, VerdictRow[]>): { passing: boolean; bad: boolean } {
    const sha = mainline[i]!;
    const rows = verdicts.get(sha) ?? [];
    const vouched = this.vouched(sha);
    const noQa = vouched && NO_QA.test(this.commits.get(sha)?.message ?? "");
    const incr = this.isIncr(sha);
    const dims = [...new Set([...this.tickets(sha), ...rows.flatMap((r) => (r.ticket === null ? [] : [r.ticket]))])];
    if (dims.length === 0) dims.push("");
    let passing = true;
    let bad = false;
    for (const d of dims) {
      const applies = rows.filter((r) => r.ticket === null || r.ticket === d);
      const values = [applies.filter((r) => !r.during).at(-1)?.verdict ?? null, ...applies.filter((r) => r.during).map((r) => r.verdict)];
      const out = new Set<string>();
      for (const v of values) {
        if (v && v !== "needstesting") out.add(v);
        else if (noQa) out.add("untestable");
        else if (incr && d) out.add(this.inherit(mainline, i, d, verdicts));
        else out.add("needstesting");
      }
      if (![...out].some((v) => PASSING.has(v))) passing = false;
      if (out.has("bad")) bad = true;
    }
    return { passing, bad };
  }

  /** What a counted `[incr]` revision takes for ticket `d`: "ok" when its ticket's next landing may pass, else "needstesting". */
  private inherit(mainline: string[], i: number, d: string, verdicts: Map<string, VerdictRow[]>): string {
    for (let j = i + 1; j < mainline.length; j++) {
      const later = mainline[j]!;
      if (!this.tickets(later).includes(d) || this.isIncr(later)) continue;
      if (!this.judge(mainline, j, verdicts).passing) return "needstesting";
      this.seen.incrPassed.add(mainline[i]!);
      return "ok";
    }
    return "needstesting";
  }

  /** A commit whose markers count: brought by the trusted role (or anyone's, by the seed's configuration), not a merge, not a rollback. */
  private vouched(sha: string): boolean {
    const c = this.commits.get(sha);
    return (
      !!c &&
      (this.world.trust === "anyone" || this.trusted.has(sha)) &&
      c.parents.length < 2 &&
      !new RegExp(ROLLBACK.source, "i").test(c.message)
    );
  }

  private isIncr(sha: string): boolean {
    return this.vouched(sha) && INCR.test(this.commits.get(sha)?.message ?? "");
  }

  /** The tickets a commit's message references (the default patterns), in no particular order. */
  private tickets(sha: string): string[] {
    const cached = this.ticketCache.get(sha);
    if (cached) return cached;
    const message = this.commits.get(sha)?.message ?? "";
    const found = new Set<string>();
    for (const [re, ids] of TICKETS) for (const m of message.matchAll(re)) for (const id of ids(m)) if (id) found.add(id);
    const list = [...found];
    if (this.commits.has(sha)) this.ticketCache.set(sha, list);
    return list;
  }

  private rollsBack(sha: string, bad: string, badRevno: number): boolean {
    for (const m of (this.commits.get(sha)?.message ?? "").matchAll(ROLLBACK)) {
      const token = m[1]!.toLowerCase();
      if ((/^\d+$/.test(token) && Number(token) === badRevno) || (token.length >= 4 && bad.startsWith(token))) return true;
    }
    return false;
  }

  /**
   * For each sha, oldest first, the verdicts that count: by qa-role users,
   * and through a ticket only on a revision whose message references it and,
   * by tag, only at or before the tagged revision (what QA tested).
   * Concurrently, those given during the interval are marked so.
   */
  private verdicts(concurrent: boolean): Map<string, VerdictRow[]> {
    const rows = this.db.prepare("SELECT id, sha, verdict, user, ticket, source FROM verdicts ORDER BY id").all() as {
      id: number;
      sha: string;
      verdict: string;
      user: string;
      ticket: string | null;
      source: string;
    }[];
    const out = new Map<string, VerdictRow[]>();
    this.seen.ticketRows = 0;
    this.seen.ticketRowsIgnored = 0;
    for (const r of rows) {
      if (!this.users.qa!.has(r.user)) continue;
      if (r.ticket !== null) this.seen[this.coversTicket(r) ? "ticketRows" : "ticketRowsIgnored"]++;
      if (!this.coversTicket(r)) continue;
      const during = concurrent && r.id > this.verdictMark;
      out.set(r.sha, [...(out.get(r.sha) ?? []), { verdict: r.verdict, ticket: r.ticket, during }]);
    }
    this.verdictMark = rows.at(-1)?.id ?? 0;
    return out;
  }

  private coversTicket(r: { sha: string; ticket: string | null; source: string }): boolean {
    if (r.ticket === null) return true;
    if (!this.tickets(r.sha).includes(r.ticket)) return false;
    if (!r.source.startsWith("tag ")) return true;
    const target = this.tagTargets.get(fullRef(r.source.slice(4).trim().split(" ")[0]!));
    return target === undefined || this.ancestors(target).has(r.sha);
  }

  /** (a) and (f): every tip production-stable took is justified; a freeze holds. */
  private checkProduction(before: Map<string, string>, now: Map<string, string>, fresh: AuditRow[], v: Violation[]): void {
    const prod = now.get(PROD);
    const frozenNow = this.setting("freeze") !== null;
    const frozeOrThawed = fresh.some((r) => r.decision === "freeze" || r.decision === "thaw");
    const tips = new Set<string>();
    if (prod && prod !== before.get(PROD)) tips.add(prod);
    for (const r of fresh) {
      const to = norm(r.new);
      if (
        r.ref &&
        fullRef(r.ref) === PROD &&
        to &&
        ["accepted", "override", "mirror"].includes(r.decision) &&
        prod &&
        this.ancestors(prod).has(to)
      ) {
        tips.add(to);
      }
    }
    for (const tip of tips) {
      if (this.frozen && frozenNow && !frozeOrThawed && tip !== before.get(PROD) && !this.security(tip, now) && !this.override(tip)) {
        v.push({ inv: "f", what: `production-stable took ${this.describe(tip)} while frozen${this.how(tip)}` });
      }
      if (!this.allowed(tip, now, 0)) v.push({ inv: "a", what: `production-stable took ${this.describe(tip)}${this.how(tip)}` });
    }
    this.frozen = frozenNow;
  }

  /** Did an admin's break-glass override move `ref` in these rows? */
  private overridden(rows: AuditRow[], ref: string): boolean {
    return rows.some((r) => r.decision === "override" && r.ref && fullRef(r.ref) === ref && this.users.admin!.has(r.user ?? ""));
  }

  private allowed(tip: string, now: Map<string, string>, depth: number): boolean {
    if (this.allowedProd.has(tip)) return true;
    const ok = this.deployable.has(tip) || this.override(tip) || this.security(tip, now) || this.mirrorMerge(tip, now, depth);
    if (ok) this.allowedProd.add(tip);
    return ok;
  }

  private override(tip: string): boolean {
    return this.audit.some((r) => r.decision === "override" && norm(r.new) === tip && this.users.admin!.has(r.user ?? ""));
  }

  /** A promotion: a commit of production-devel with a CI pass recorded by a ci-role user. */
  private security(tip: string, now: Map<string, string>): boolean {
    const pdev = now.get(PDEV);
    if (!pdev || !this.ancestors(pdev).has(tip)) return false;
    const rows = this.db.prepare("SELECT user FROM ci_results WHERE sha = ? AND result = 'pass'").all(tip) as { user: string }[];
    return rows.some((r) => this.users.ci!.has(r.user));
  }

  /** A merge by the robot of an allowed tip and a deployable revision, with exactly their merged tree. */
  private mirrorMerge(tip: string, now: Map<string, string>, depth: number): boolean {
    const c = this.commits.get(tip);
    if (!c || c.parents.length !== 2 || c.author !== ROBOT || depth > 50) return false;
    const [p1, p2] = c.parents as [string, string];
    if (!this.deployable.has(p2) || !this.allowed(p1, now, depth + 1)) return false;
    const merged = this.world.sb.run("git", ["merge-tree", "--write-tree", p1, p2], {
      cwd: this.world.sb.bare,
      env: { GIT_NO_REPLACE_OBJECTS: "1" },
    });
    return merged.status === 0 && merged.stdout.split("\n")[0] === c.tree;
  }

  /** (c): revnos prodgate stored or shows are first-parent depths, and stable's shown revnos keep their commits. */
  private checkRevnos(now: Map<string, string>, overridden: boolean, v: Violation[]): void {
    const stable = now.get(STABLE);
    const mainline = stable ? this.firstParents(stable).reverse() : [];
    const renumbered = [...this.shown].filter(([revno, sha]) => mainline.length >= revno && mainline[revno - 1] !== sha);
    if (renumbered.length > 0 && !overridden) {
      const [revno, sha] = renumbered[0]!;
      const more = renumbered.length > 1 ? ` (and ${renumbered.length - 1} later revnos)` : "";
      v.push({
        inv: "c",
        what: `r${revno} was ${short(sha)}, stable's mainline now has ${this.describe(mainline[revno - 1]!)} there${more}`,
      });
    }
    // An admin's override may rewind stable (break-glass): the revnos it gave up are free again.
    if (overridden) this.shown.clear();
    mainline.forEach((sha, i) => this.shown.set(i + 1, sha));
    const rows = this.db.prepare("SELECT sha, revno FROM revnos").all() as { sha: string; revno: number }[];
    for (const { sha, revno } of rows) {
      if (this.revnoChecked.has(sha) || !this.commits.has(sha)) continue;
      this.revnoChecked.add(sha);
      const depth = this.firstParents(sha).length;
      if (depth !== revno)
        v.push({ inv: "c", what: `prodgate stores r${revno} for ${this.describe(sha)}, whose first-parent depth is ${depth}` });
    }
  }

  /** Also check what `prodgate status --json` shows (costs a Node start; called now and then). */
  checkStatus(): Violation[] {
    const r = this.world.sb.prodgate(["status", "--json"]);
    if (r.status !== 0) return [];
    const v: Violation[] = [];
    const status = JSON.parse(r.stdout) as {
      branches: Record<string, { sha: string; revno: number } | null>;
      pending: { sha: string; revno: number }[];
      undeployed?: { sha: string; revno: number; verdict: string; source: string }[];
    };
    const stable = this.tips.get(STABLE);
    const mainline = stable ? this.firstParents(stable).reverse() : [];
    const pending = status.pending ?? [];
    const shownHere = [...Object.values(status.branches ?? {}), ...pending].filter((x): x is { sha: string; revno: number } => !!x?.sha);
    for (const { sha, revno } of shownHere) {
      if (!this.commits.has(sha) || revno === undefined || revno === null) continue;
      const depth = this.firstParents(sha).length;
      if (depth !== revno)
        v.push({ inv: "c", what: `status shows r${revno} for ${this.describe(sha)}, whose first-parent depth is ${depth}` });
    }
    for (const p of pending) {
      if (mainline[p.revno - 1] !== undefined && mainline[p.revno - 1] !== p.sha) {
        v.push({
          inv: "c",
          what: `status lists r${p.revno} as ${this.describe(p.sha)}; stable's mainline has ${short(mainline[p.revno - 1])} there`,
        });
      }
    }
    // Every revision prodgate counts as ok or untestable must pass the oracle's own judgement:
    // a verdict by ticket, an [incr] or a marker cannot pass what QA did not approve.
    const verdicts = this.verdicts(false);
    for (const u of status.undeployed ?? []) {
      const i = mainline.indexOf(u.sha);
      if (i < 0 || !PASSING.has(u.verdict) || this.judge(mainline, i, verdicts).passing) continue;
      v.push({
        inv: "a",
        what: `status counts r${u.revno} ${this.describe(u.sha)} as ${u.verdict} (${u.source}); QA's verdicts do not pass it`,
      });
    }
    return v;
  }

  /** What the generator may aim at: the state as of the last check. */
  snapshot(): Snapshot {
    const on = (ref: string) => {
      const tip = this.tips.get(ref);
      return tip ? this.ancestors(tip) : new Set<string>();
    };
    const stable = this.tips.get(STABLE);
    const mainline = stable ? this.firstParents(stable).reverse() : [];
    const bad = this.db.prepare("SELECT DISTINCT sha FROM verdicts WHERE verdict = 'bad'").all() as { sha: string }[];
    const badRevnos = bad.map((r) => mainline.indexOf(r.sha) + 1).filter((n) => n > 0);
    const prod = on(PROD);
    const d = [...mainline].reverse().find((sha) => this.deployable.has(sha));
    const ahead = new Set([...(d ? this.ancestors(d) : [])].filter((sha) => !prod.has(sha)));
    const withTickets = mainline.filter((sha) => !prod.has(sha) && this.tickets(sha).length > 0);
    return {
      ...{ devel: on(DEVEL), stable: on(STABLE), pdev: on(PDEV), prod, mainline, badRevnos, frozen: this.frozen, ahead },
      pendingTickets: [...new Set(withTickets.flatMap((sha) => this.tickets(sha)))],
      ticketRevnos: withTickets.map((sha) => mainline.indexOf(sha) + 1),
      incrRevnos: mainline.flatMap((sha, i) => (!prod.has(sha) && INCR.test(this.commits.get(sha)?.message ?? "") ? [i + 1] : [])),
      incrFollowers: this.incrFollowers(withTickets).map((sha) => mainline.indexOf(sha) + 1),
    };
  }

  /** For each [incr] revision (trusted or not) among `pending`, the next landing of each of its tickets, either reading of "not itself incremental". */
  private incrFollowers(pending: string[]): string[] {
    const out = new Set<string>();
    pending.forEach((r, k) => {
      if (!INCR.test(this.commits.get(r)?.message ?? "")) return;
      for (const t of this.tickets(r)) {
        const later = pending.slice(k + 1).filter((sha) => this.tickets(sha).includes(t));
        for (const final of [later.find((sha) => !this.isIncr(sha)), later.find((sha) => !INCR.test(this.commits.get(sha)?.message ?? ""))])
          if (final) out.add(final);
      }
    });
    return [...out];
  }

  // --- reading the repository and the database ------------------------------

  private readTips(): Map<string, string> {
    const out = this.world.git(["for-each-ref", "--format=%(refname) %(objectname)", ...BRANCHES, "refs/tags/qa", "refs/tags/ci"]);
    return new Map(out ? out.split("\n").map((l) => l.split(" ") as [string, string]) : []);
  }

  /** Every commit reachable from any ref, replace objects off; commits never change, so this only grows. */
  private readCommits(): void {
    const out = this.world.git(["log", "--all", "--format=%H%x1f%P%x1f%T%x1f%an <%ae>%x1f%B%x1e"]);
    for (const record of out.split("\x1e")) {
      const [sha, parents, tree, author, message] = record.replace(/^\n/, "").split("\x1f");
      if (!sha || this.commits.has(sha)) continue;
      this.commits.set(sha, { parents: parents ? parents.split(" ") : [], tree: tree!, author: author!, message: message ?? "" });
    }
  }

  private setting(key: string): string | null {
    return (this.db.prepare("SELECT value FROM settings WHERE key = ?").get(key) as { value: string } | undefined)?.value ?? null;
  }

  private ancestors(tip: string): Set<string> {
    const cached = this.ancestorCache.get(tip);
    if (cached) return cached;
    const seen = new Set<string>();
    const stack = [tip];
    while (stack.length > 0) {
      const sha = stack.pop()!;
      if (seen.has(sha)) continue;
      seen.add(sha);
      stack.push(...(this.commits.get(sha)?.parents ?? []));
    }
    this.ancestorCache.set(tip, seen);
    return seen;
  }

  /** The first-parent chain from `tip` to the root, newest first. */
  private firstParents(tip: string): string[] {
    const chain: string[] = [];
    for (let sha: string | undefined = tip; sha; sha = this.commits.get(sha)?.parents[0]) chain.push(sha);
    return chain;
  }

  private describe(sha: string): string {
    const subject = this.commits.get(sha)?.message.split("\n")[0] ?? "?";
    return `${short(sha)} "${subject}"`;
  }

  /** The audit rows that put `sha` on production-stable. */
  private how(sha: string): string {
    const rows = this.audit.filter((r) => norm(r.new) === sha && r.ref && fullRef(r.ref) === PROD);
    return rows.length ? ` (${rows.map((r) => `${r.decision}${r.code ? ` [${r.code}]` : ""} by ${r.user}`).join("; ")})` : "";
  }
}
