import Database from "better-sqlite3";
import type * as Crypto from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { UserError } from "../errors";
import { eventsOfAuditRow } from "../events/audit";
import type { EventDraft, EventType } from "../events/types";
import type { FixHow } from "../policy/fixes";
import type { CowboyHow } from "../ops/rules";
import { shortSha, type CiResult, type Verdict, type VerdictRecord } from "../policy/types";
import { nativeBinding } from "./native";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema";

export function databasePath(gitDir: string): string {
  return join(gitDir, "prodgate", "state.db");
}

/**
 * What a tag's verdict, CI result or deployment is recorded under, so that it
 * is recorded once: `tag <ref>`; a ticket verdict tag QA moved for another
 * round records again, under the push that moved it.
 */
export function tagSource(ref: string, old: string | null | undefined, pushId: string | null | undefined): string {
  return !old || /^0+$/.test(old) ? `tag ${ref}` : `tag ${ref} (moved by push ${pushId ?? "?"})`;
}

export interface AuditRow {
  /** Ignored when written: the store stamps each row inside its write transaction. */
  at?: string;
  pushId?: string | null;
  user: string | null;
  ref?: string | null;
  old?: string | null;
  new?: string | null;
  /** accepted, rejected, override, or an event kind (verdict, ci, mirror, fix, merge-back, role, baseline, freeze, thaw). */
  decision: string;
  code?: string | null;
  reason?: string | null;
  detail?: string | null;
  /** For an override: the commits the refusal it overrode named (the first few, and how many), told in its override.used event; not a column. */
  brought?: { commits: { sha: string; revno: number | null; subject: string }[]; total: number };
}

export interface AuditEntry extends AuditRow {
  id: number;
  at: string;
  /** Whether an accepted update really changed the ref: null while unknown, or for other rows. */
  landed?: boolean | null;
}

export interface LogFilter {
  limit: number;
  ref?: string;
  user?: string;
  rejected?: boolean;
}

export interface MirrorRun {
  id: number;
  startedAt: string;
  finishedAt: string | null;
  pid: number;
  trigger: string;
  outcome: string;
  fromSha: string | null;
  toSha: string | null;
  deployableSha: string | null;
  deployableRevno: number | null;
  detail: string | null;
}

export type FixBranch = "devel" | "stable";

export interface Reached {
  sha: string;
  at: string;
  /** As prodgate found it back, or `acknowledged` by hand (prodgate security ack). */
  how: FixHow | "acknowledged";
  by: string | null;
}

export interface SecurityFix {
  sha: string;
  subject: string;
  patchId: string | null;
  promotedBy: string;
  promotedAt: string;
  pushId: string | null;
  devel: Reached | null;
  stable: Reached | null;
  /** No longer required on production-stable (prodgate security retire). */
  retired?: { at: string; by: string; reason: string } | null;
  /** A commit at which the fix's change was verified held (production-stable's rule measures from it). */
  heldAt?: string | null;
  /** The paths its commit changed, "absent" when the repository lacks the commit, null until first asked (a commit never changes). */
  paths?: string[] | "absent" | null;
}

/** How long a write waits for another process's write lock before giving up. */
export const BUSY_TIMEOUT_MS = 10_000;

/** Write-ahead log bytes past which a hook, as it exits, folds the log into the database (trimOpenLogs). */
export const LOG_TRIM_BYTES = 1 << 20;

/** The databases this process has open (for trimOpenLogs). */
const openStores = new Set<Store>();

/**
 * Fold each open database's write-ahead log into the database and empty it,
 * when it has grown past LOG_TRIM_BYTES and nobody is using it at this
 * moment; never waits. For processes that exit without closing the
 * database, as the hooks do (a close checkpoints on every push): SQLite only
 * starts a log afresh in a connection that saw it fully copied, and each new
 * process, the only connection when it opens, rebuilds its index of the log
 * by reading all of it, which forgets that it was copied. Without this, the
 * log of a repository where no admin command ever closes the database grows
 * with every push, and so does every hook's start.
 */
export function trimOpenLogs(): void {
  for (const store of openStores) store.trimLog();
}

/** A database failure the admin can act on, in one line; null when it is not one of those. */
export function databaseProblem(err: unknown, path: string, waitedMs = BUSY_TIMEOUT_MS): UserError | null {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== "string") return null;
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new UserError(
      `prodgate's database (${path}) stayed locked by another process for ${waitedMs / 1000} s; try again, and if it lasts find the holder with: fuser ${path}`,
      1,
    );
  }
  if (code.startsWith("SQLITE_READONLY") || code === "SQLITE_CANTOPEN" || code.startsWith("SQLITE_PERM")) {
    return new UserError(
      `prodgate's database (${path}) cannot be written by this user; give the user running the hooks write access to it and its directory`,
      1,
    );
  }
  if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) {
    return new UserError(
      `prodgate's database (${path}) is damaged; restore it from a backup (prodgate never recreates it over a damaged one)`,
      1,
    );
  }
  if (code === "SQLITE_FULL") {
    return new UserError(
      `prodgate's database (${path}) cannot grow: the disk is full; free space there and try again (what failed was not recorded)`,
      1,
    );
  }
  return null;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}

function damaged(path: string, why: string): UserError {
  return new UserError(
    `prodgate's database (${path}) is damaged: ${why}; restore it from a backup (prodgate never recreates it over an existing file; only if it never held anything, remove it and run install.sh again)`,
    1,
  );
}

export function now(): string {
  return new Date().toISOString();
}

/** The only place that speaks SQL. */
/** Who gave a verdict, when, and with what note. */
interface VerdictDetail {
  user: string;
  at: string;
  note: string | null;
}

/**
 * The details of the verdict rows of one Store.verdictRows() read, loaded
 * together at the first use of any of them. A verdict row is never changed
 * or deleted once written, so reading its details later gives what reading
 * them with the row would have.
 */
class VerdictDetails {
  private readonly ids: number[] = [];
  private loaded: Map<number, VerdictDetail> | null = null;

  constructor(private readonly db: Database.Database) {}

  add(id: number): void {
    this.ids.push(id);
  }

  of(id: number): VerdictDetail {
    if (!this.loaded) {
      const rows = this.db
        .prepare("SELECT id, user, at, note FROM verdicts WHERE id IN (SELECT value FROM json_each(?))")
        .raw()
        .all(JSON.stringify(this.ids)) as [number, string, string, string | null][];
      this.loaded = new Map(rows.map(([rowId, user, at, note]) => [rowId, { user, at, note }]));
    }
    const detail = this.loaded.get(id);
    if (!detail) throw new Error(`verdict row ${id} is no longer in the database`);
    return detail;
  }
}

/**
 * A verdict row as the walk reads it: id, commit, verdict and ticket at once,
 * user, at and note (VerdictRecord's other fields) when first asked, for the
 * whole read at once. JSON gives all of them; an object spread ({...v}) copies
 * only the four read at once (getters live on the class), so name the fields.
 */
export class StoredVerdict implements VerdictRecord {
  readonly #details: VerdictDetails;

  constructor(
    readonly id: number,
    readonly sha: string,
    readonly verdict: Verdict,
    readonly ticket: string | null,
    details: VerdictDetails,
  ) {
    this.#details = details;
    details.add(id);
  }

  get user(): string {
    return this.#details.of(this.id).user;
  }

  get at(): string {
    return this.#details.of(this.id).at;
  }

  get note(): string | null {
    return this.#details.of(this.id).note;
  }

  toJSON(): VerdictRecord & { id: number; ticket: string | null } {
    return { id: this.id, sha: this.sha, verdict: this.verdict, user: this.user, at: this.at, note: this.note, ticket: this.ticket };
  }
}

export class Store {
  private constructor(
    readonly db: Database.Database,
    readonly path: string,
  ) {}

  /**
   * Opens the database. `create` is for install and the admin command's first
   * run; the hooks never create one, so a missing or damaged database fails
   * closed instead of being silently replaced.
   */
  static open(path: string, opts: { create?: boolean; readonly?: boolean } = {}): Store {
    const existed = existsSync(path);
    if (!opts.create && !existed) {
      throw new UserError(`prodgate's database is missing (${path}); run install.sh on this repository again`, 1);
    }
    // SQLite takes an empty file for an empty database and prodgate would fill
    // it with a fresh schema: the freeze, verdicts and audit log gone unnoticed.
    // Only a database that does not exist yet is ever created.
    if (existed && fileSize(path) === 0) throw damaged(path, "it is empty");
    if (opts.create) mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    let db: Database.Database;
    try {
      db = new Database(path, {
        fileMustExist: !opts.create,
        timeout: BUSY_TIMEOUT_MS,
        readonly: opts.readonly ?? false,
        nativeBinding: nativeBinding(),
      });
      if (!opts.readonly) db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
    } catch (err) {
      throw databaseProblem(err, path) ?? new UserError(`prodgate's database (${path}) cannot be opened: ${(err as Error).message}`, 1);
    }
    const store = new Store(db, path);
    openStores.add(store);
    try {
      if (existed && store.schemaVersion() === 0) throw damaged(path, "it holds no prodgate schema");
      store.migrate(opts.readonly ?? false);
    } catch (err) {
      db.close();
      if (err instanceof UserError) throw err;
      throw databaseProblem(err, path) ?? new UserError(`prodgate's database (${path}) is unreadable: ${(err as Error).message}`, 1);
    }
    return store;
  }

  close(): void {
    openStores.delete(this);
    this.db.close();
  }

  /** See trimOpenLogs. */
  trimLog(): void {
    if (this.db.readonly || !this.db.open) return;
    try {
      if (fileSize(`${this.path}-wal`) <= LOG_TRIM_BYTES) return;
      this.db.pragma("busy_timeout = 0");
      this.db.pragma("wal_checkpoint(TRUNCATE)");
    } catch {
      // Missing, busy or failing: the next process tries again.
    }
  }

  /** Is any security fix not yet back in devel or stable? */
  hasFixPending(): boolean {
    return this.db.prepare("SELECT 1 FROM fixes WHERE devel_sha IS NULL OR stable_sha IS NULL LIMIT 1").get() !== undefined;
  }

  schemaVersion(): number {
    return this.db.pragma("user_version", { simple: true }) as number;
  }

  private migrate(readonly: boolean): void {
    const version = this.schemaVersion();
    if (version > SCHEMA_VERSION) {
      throw new UserError(`prodgate's database has schema ${version}, newer than this prodgate (${SCHEMA_VERSION}); upgrade prodgate`, 1);
    }
    if (version === SCHEMA_VERSION) return;
    if (readonly) throw new UserError(`prodgate's database has schema ${version}; run prodgate doctor to upgrade it`, 1);
    this.db
      .transaction(() => {
        const current = this.schemaVersion();
        for (let v = current; v < SCHEMA_VERSION; v++) this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })
      .immediate();
  }

  /** Run `fn` in an IMMEDIATE transaction: the only safe kind for read-then-write under concurrency. */
  write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      throw databaseProblem(err, this.path) ?? err;
    }
  }

  // --- audit -------------------------------------------------------------

  /**
   * Append audit rows. With `landing`, the rows are a push's decisions: each
   * accepted or overridden one also gets a landing row, unsettled until
   * post-receive or sync says whether the update really landed.
   */
  audit(rows: readonly AuditRow[], landing?: { receive: string | null }): void {
    const insert = this.db.prepare(
      `INSERT INTO audit (at, push_id, user, ref, old, new, decision, code, reason, detail)
       VALUES (@at, @pushId, @user, @ref, @old, @new, @decision, @code, @reason, @detail)`,
    );
    const pending = landing && this.db.prepare("INSERT INTO landing (audit_id, receive) VALUES (?, ?)");
    this.write(() => {
      for (const r of rows) {
        const { brought: _brought, ...columns } = r;
        const info = insert.run({
          pushId: null,
          ref: null,
          old: null,
          new: null,
          code: null,
          reason: null,
          detail: null,
          ...columns,
          at: this.stamp(),
        });
        if (pending && (r.decision === "accepted" || r.decision === "override")) pending.run(info.lastInsertRowid, landing.receive);
        this.emit(eventsOfAuditRow(r));
      }
    });
  }

  /**
   * Settle the landing rows of push `pushId` from the updates git says landed
   * (post-receive's input): each of its accepted updates landed exactly when
   * it is among them. Returns how many rows were settled.
   */
  settlePush(
    pushId: string,
    landed: readonly { ref: string; old: string; new: string }[],
    how: string,
    events: readonly EventDraft[] = [],
  ): number {
    const key = (u: { ref: string | null | undefined; old: string | null | undefined; new: string | null | undefined }) =>
      `${u.ref} ${u.old} ${u.new}`;
    const keys = new Set(landed.map(key));
    return this.write(() => {
      const rows = this.db
        .prepare(
          `SELECT a.id, a.ref, a.old, a.new FROM landing l JOIN audit a ON a.id = l.audit_id
           WHERE a.push_id = ? AND l.landed IS NULL`,
        )
        .all(pushId) as { id: number; ref: string; old: string; new: string }[];
      for (const r of rows) this.settleLanding(r.id, keys.has(key(r)), how);
      // What the landed updates meant (production-stable moved, revisions await QA), told in the same transaction.
      this.emit(events);
      return rows.length;
    });
  }

  settleLanding(auditId: number, landed: boolean, how: string): void {
    this.db
      .prepare("UPDATE landing SET landed = ?, settled_at = ?, how = ? WHERE audit_id = ? AND landed IS NULL")
      .run(landed ? 1 : 0, now(), how, auditId);
  }

  /** Accepted updates not yet known to have landed or not, oldest first. */
  unsettledLandings(): (AuditEntry & { receive: string | null })[] {
    return this.db
      .prepare(
        `SELECT a.id, a.at, a.push_id AS pushId, a.user, a.ref, a.old, a.new, a.decision, a.code, a.reason, a.detail, l.receive
         FROM landing l JOIN audit a ON a.id = l.audit_id WHERE l.landed IS NULL ORDER BY a.id`,
      )
      .all() as (AuditEntry & { receive: string | null })[];
  }

  /**
   * Has another accepted update of `ref` from `old` to `new` been found to land?
   * A branch prodgate governs never goes back, so it reaches a given commit
   * once: for a branch, any landed update to `to`, whatever its old value,
   * or a move of the mirror there, counts.
   */
  landedElsewhere(auditId: number, ref: string, old: string | null, to: string | null): boolean {
    if (to && ref.startsWith("refs/heads/")) {
      return (
        this.db
          .prepare(
            `SELECT 1 FROM landing l JOIN audit a ON a.id = l.audit_id WHERE l.landed = 1 AND a.id != ? AND a.ref = ? AND a.new = ?
             UNION ALL SELECT 1 FROM audit WHERE decision = 'mirror' AND code IN ('moved', 'merged', 'follow') AND ref = ? AND new = ?
             LIMIT 1`,
          )
          .get(auditId, ref, to, ref, to) !== undefined
      );
    }
    return (
      this.db
        .prepare(
          `SELECT 1 FROM landing l JOIN audit a ON a.id = l.audit_id
           WHERE l.landed = 1 AND a.id != ? AND a.ref = ? AND a.old IS ? AND a.new IS ? LIMIT 1`,
        )
        .get(auditId, ref, old, to) !== undefined
    );
  }

  /** Did any row of `ref` (a mirror run, or a push that landed) find it at `sha`? */
  rowFrom(ref: string, sha: string): boolean {
    return this.laterRowFrom(0, ref, sha);
  }

  /**
   * Did a later row of `ref` find it at `sha`: a mirror run (which read the
   * ref itself), or a push whose update landed (git moved the ref from there)?
   * A push's old value is whatever its client sent, so a row that did not
   * land proves nothing.
   */
  laterRowFrom(auditId: number, ref: string, sha: string): boolean {
    return (
      this.db
        .prepare(
          `SELECT 1 FROM audit a LEFT JOIN landing l ON l.audit_id = a.id
           WHERE a.id > ? AND a.ref = ? AND a.old = ? AND (a.decision = 'mirror' OR l.landed = 1) LIMIT 1`,
        )
        .get(auditId, ref, sha) !== undefined
    );
  }

  /** Is a later accepted update of `ref` from `sha` not yet known to have landed or not? */
  laterUnsettledFrom(auditId: number, ref: string, sha: string): boolean {
    return (
      this.db
        .prepare(
          `SELECT 1 FROM audit a JOIN landing l ON l.audit_id = a.id
           WHERE a.id > ? AND a.ref = ? AND a.old = ? AND l.landed IS NULL LIMIT 1`,
        )
        .get(auditId, ref, sha) !== undefined
    );
  }

  /**
   * The time for an audit row, taken inside the write transaction (the
   * database's write lock is held, so rows are stamped in the order they are
   * written), and never earlier than the previous row's: a clock stepped
   * back cannot make the log go back in time.
   */
  private stamp(): string {
    const t = now();
    const last = this.db.prepare("SELECT at FROM audit ORDER BY id DESC LIMIT 1").pluck().get() as string | undefined;
    return last !== undefined && last > t ? last : t;
  }

  log(filter: LogFilter): AuditEntry[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: filter.limit };
    if (filter.ref) {
      where.push("(ref = @ref OR ref = 'refs/heads/' || @ref OR ref = 'refs/tags/' || @ref)");
      params.ref = filter.ref;
    }
    if (filter.user) {
      where.push("user = @user");
      params.user = filter.user;
    }
    if (filter.rejected) where.push("decision = 'rejected'");
    const sql = `SELECT id, at, push_id AS pushId, user, ref, old, new, decision, code, reason, detail,
      (SELECT landed FROM landing WHERE audit_id = audit.id) AS landed FROM audit
      ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as (AuditEntry & { landed: number | null })[]).map((r) => ({
      ...r,
      landed: r.landed === null ? null : r.landed === 1,
    }));
  }

  // --- verdicts and CI results --------------------------------------------

  /** The latest verdict of each of these commits that has one: one statement, one index seek per commit. */
  latestVerdicts(shas: readonly string[]): Map<string, VerdictRecord> {
    const result = new Map<string, VerdictRecord>();
    if (shas.length === 0) return result;
    const rows = this.db
      .prepare(
        `SELECT v.sha, v.verdict, v.user, v.at, v.note FROM json_each(?) AS wanted
           JOIN verdicts AS v ON v.id = (SELECT max(id) FROM verdicts WHERE sha = wanted.value)`,
      )
      .all(JSON.stringify(shas)) as VerdictRecord[];
    for (const row of rows) result.set(row.sha, row);
    return result;
  }

  /**
   * Record verdicts. A tag records once: when its source (`tag <ref>`) is
   * already recorded, by post-receive or by a sync that caught up, nothing is
   * added. `effectAt`: for a tag recorded late, the audit row of its
   * acceptance, where it takes effect. Returns how many were recorded.
   */
  recordVerdicts(
    records: readonly {
      sha: string;
      verdict: Verdict;
      note?: string | null;
      revno?: number;
      ref?: string | null;
      ticket?: string | null;
    }[],
    user: string,
    source: string,
    pushId: string | null = null,
    effectAt?: number,
  ): number {
    const insert = this.db.prepare(
      "INSERT INTO verdicts (sha, verdict, user, at, note, source, ticket, effect_audit_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    const audit = this.db.prepare(
      `INSERT INTO audit (at, push_id, user, ref, new, decision, code, reason, detail)
       VALUES (?, ?, ?, ?, ?, 'verdict', ?, ?, ?)`,
    );
    const seen = this.db.prepare("SELECT 1 FROM verdicts WHERE source = ? LIMIT 1");
    return this.write(() => {
      if (source.startsWith("tag ") && seen.get(source)) return 0;
      const at = this.stamp();
      for (const r of records) {
        const what =
          (r.revno !== undefined ? `r${r.revno} ${shortSha(r.sha)}` : shortSha(r.sha)) + (r.ticket ? ` (ticket ${r.ticket})` : "");
        const row = audit.run(at, pushId, user, r.ref ?? null, r.sha, r.verdict, `${r.verdict} for ${what}`, r.note ?? source);
        insert.run(r.sha, r.verdict, user, at, r.note ?? null, source, r.ticket ?? null, effectAt ?? row.lastInsertRowid);
        const data = {
          sha: r.sha,
          revno: r.revno ?? null,
          verdict: r.verdict,
          note: r.note ?? null,
          source,
          ...(r.ticket ? { ticket: r.ticket } : {}),
        };
        this.emit([{ type: "verdict.recorded", actor: user, data }], at);
        if (r.verdict === "bad") this.emit([{ type: "verdict.bad", actor: user, data }], at);
      }
      return records.length;
    });
  }

  /**
   * Every verdict of these commits, in no particular order (engine/tickets.ts
   * verdictsFor keeps the newest of each channel). Read by every walk of
   * stable, once per revision, in a process that runs that code once: only
   * what decides is read here (the row's id, commit, verdict and ticket);
   * who gave it, when and with what note are read at their first use, for
   * all the rows of this read in one query (see StoredVerdict).
   */
  verdictRows(shas: readonly string[]): StoredVerdict[] {
    if (shas.length === 0) return [];
    const wanted = shas.length === 1 ? shas : [...new Set(shas)];
    // json_each's key is the index into `wanted`: the commit's sha is the caller's own string, not a copy per row.
    const rows = this.db
      .prepare("SELECT w.key, v.id, v.verdict, v.ticket FROM json_each(?) AS w JOIN verdicts AS v ON v.sha = w.value")
      .raw()
      .all(JSON.stringify(wanted)) as [number, number, Verdict, string | null][];
    const details = new VerdictDetails(this.db);
    const result: StoredVerdict[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [key, id, verdict, ticket] = rows[i]!;
      result[i] = new StoredVerdict(id, wanted[key]!, verdict, ticket, details);
    }
    return result;
  }

  /**
   * The newest verdict of each channel of these commits: the one given to the
   * commit itself (ticket null) and the one given through each ticket, oldest first.
   */
  verdictChannels(shas: readonly string[]): Map<string, StoredVerdict[]> {
    const result = new Map<string, StoredVerdict[]>();
    for (const record of this.verdictRows(shas)) {
      const channels = result.get(record.sha);
      if (!channels) {
        result.set(record.sha, [record]);
        continue;
      }
      const same = channels.findIndex((c) => c.ticket === record.ticket);
      if (same < 0) channels.push(record);
      else if (channels[same]!.id < record.id) channels[same] = record;
    }
    for (const channels of result.values()) if (channels.length > 1) channels.sort((a, b) => a.id - b.id);
    return result;
  }

  /** Every verdict given through a ticket, oldest first. */
  ticketVerdicts(ticket: string): (VerdictRecord & { id: number; ticket: string })[] {
    return this.db
      .prepare("SELECT id, sha, verdict, user, at, note, ticket FROM verdicts WHERE ticket = ? ORDER BY id")
      .all(ticket) as (VerdictRecord & { id: number; ticket: string })[];
  }

  /** Record a CI result; like verdicts, a tag records once. Returns whether it was recorded. */
  recordCi(
    sha: string,
    result: CiResult,
    user: string,
    source: string,
    pushId: string | null = null,
    ref: string | null = null,
    effectAt?: number,
  ): boolean {
    return this.write(() => {
      if (source.startsWith("tag ") && this.db.prepare("SELECT 1 FROM ci_results WHERE source = ? LIMIT 1").get(source)) return false;
      const at = this.stamp();
      const row = this.db
        .prepare(`INSERT INTO audit (at, push_id, user, ref, new, decision, code, reason, detail) VALUES (?, ?, ?, ?, ?, 'ci', ?, ?, ?)`)
        .run(at, pushId, user, ref, sha, result, `CI ${result} for ${shortSha(sha)}`, source);
      this.db
        .prepare("INSERT INTO ci_results (sha, result, user, at, source, effect_audit_id) VALUES (?, ?, ?, ?, ?, ?)")
        .run(sha, result, user, at, source, effectAt ?? row.lastInsertRowid);
      return true;
    });
  }

  /**
   * The verdicts on these commits that take effect after audit row `after`
   * (a tag's acceptance, when the tag is recorded late), oldest first: those
   * recorded since, but a tag recorded late by its own acceptance. A row from
   * before that was kept is placed by its time.
   */
  verdictsAfter(after: { id: number; at: string }, shas: readonly string[]): (VerdictRecord & { ticket: string | null; source: string })[] {
    if (shas.length === 0) return [];
    return this.db
      .prepare(
        `SELECT sha, verdict, user, at, note, ticket, source FROM verdicts
         WHERE sha IN (SELECT value FROM json_each(?)) AND (effect_audit_id > ? OR (effect_audit_id IS NULL AND at > ?)) ORDER BY id`,
      )
      .all(JSON.stringify(shas), after.id, after.at) as (VerdictRecord & { ticket: string | null; source: string })[];
  }

  /** The CI results on `sha` that take effect after audit row `after`, oldest first (as verdictsAfter). */
  ciAfter(after: { id: number; at: string }, sha: string): { result: CiResult; user: string; at: string; source: string }[] {
    return this.db
      .prepare(
        `SELECT result, user, at, source FROM ci_results WHERE sha = ? AND (effect_audit_id > ? OR (effect_audit_id IS NULL AND at > ?)) ORDER BY id`,
      )
      .all(sha, after.id, after.at) as { result: CiResult; user: string; at: string; source: string }[];
  }

  /**
   * Record that a tag recorded late was not applied, because a newer verdict
   * or CI result stands: an audit row (`verdict` or `ci`, code `superseded`,
   * detail the tag's source), which also marks the tag as recorded.
   */
  recordSuperseded(row: {
    kind: "verdict" | "ci";
    ref: string;
    sha: string;
    user: string;
    pushId: string | null;
    reason: string;
    source: string;
  }): void {
    this.write(() => {
      this.db
        .prepare(
          `INSERT INTO audit (at, push_id, user, ref, new, decision, code, reason, detail) VALUES (?, ?, ?, ?, ?, ?, 'superseded', ?, ?)`,
        )
        .run(this.stamp(), row.pushId, row.user, row.ref, row.sha, row.kind, row.reason, row.source);
    });
  }

  /**
   * qa/ and ci/ tags that pre-receive accepted but whose verdict or CI result
   * was never recorded (post-receive died or could not write): the audit rows
   * of their acceptance, oldest first.
   */
  /** Promotions and overrides of `ref` (production-stable) for which no security fix was recorded. */
  /** How push `pushId`'s update of `ref` from `old` to `to` was let through (its accepted or override row), or null when no such row is found. */
  updateDecision(pushId: string, ref: string, old: string, to: string): Pick<AuditEntry, "decision" | "code" | "detail"> | null {
    return (
      (this.db
        .prepare(
          `SELECT decision, code, detail FROM audit
           WHERE push_id = ? AND ref = ? AND old = ? AND new = ? AND decision IN ('accepted', 'override') ORDER BY id DESC LIMIT 1`,
        )
        .get(pushId, ref, old, to) as Pick<AuditEntry, "decision" | "code" | "detail"> | undefined) ?? null
    );
  }

  promotionsWithoutFixes(ref: string): AuditEntry[] {
    return this.db
      .prepare(
        `SELECT id, at, push_id AS pushId, user, ref, old, new, decision, code, reason, detail FROM audit a
         WHERE a.ref = ? AND ((a.decision = 'accepted' AND a.code = 'promotion') OR a.decision = 'override')
           AND NOT EXISTS (SELECT 1 FROM audit f WHERE f.decision = 'fix' AND f.push_id = a.push_id) ORDER BY id`,
      )
      .all(ref) as AuditEntry[];
  }

  /**
   * Accepted (or overridden) pushes that moved `ref` to `to`, and whether
   * each landed (null: not known): "none" when there was no such push.
   */
  acceptedUpdates(ref: string, to: string): "none" | (boolean | null)[] {
    const rows = this.db
      .prepare(
        `SELECT (SELECT landed FROM landing WHERE audit_id = a.id) AS landed FROM audit a
         WHERE a.ref = ? AND a.new = ? AND a.decision IN ('accepted', 'override')`,
      )
      .all(ref, to) as { landed: number | null }[];
    return rows.length === 0 ? "none" : rows.map((r) => (r.landed === null ? null : r.landed === 1));
  }

  unrecordedTagAcceptances(): AuditEntry[] {
    const recorded = new Set(
      (
        this.db
          .prepare(
            `SELECT source FROM verdicts WHERE source LIKE 'tag %' UNION SELECT source FROM ci_results WHERE source LIKE 'tag %'
             UNION SELECT source FROM deployments WHERE source LIKE 'tag %'
             UNION SELECT detail FROM audit WHERE decision IN ('verdict', 'ci') AND code = 'superseded'`,
          )
          .all() as { source: string }[]
      ).map((r) => r.source),
    );
    const accepted = this.db
      .prepare(
        `SELECT id, at, push_id AS pushId, user, ref, old, new, decision, code, reason, detail FROM audit
         WHERE decision = 'accepted' AND code IN ('verdict', 'ci-result', 'deployment') ORDER BY id`,
      )
      .all() as AuditEntry[];
    return accepted.filter((a) => a.ref && !recorded.has(tagSource(a.ref, a.old, a.pushId)));
  }

  /**
   * The audit row that accepted this update of a verdict, CI or deploy tag in
   * push `pushId`, where a tag recorded by post-receive takes effect: a tag
   * speaks as of its acceptance, whenever it is recorded (see verdictsAfter).
   */
  tagAcceptance(ref: string, pushId: string, newSha: string): AuditEntry | undefined {
    return this.db
      .prepare(
        `SELECT id, at, push_id AS pushId, user, ref, old, new, decision, code, reason, detail FROM audit
         WHERE ref = ? AND decision = 'accepted' AND push_id = ? AND new = ? ORDER BY id DESC LIMIT 1`,
      )
      .get(ref, pushId, newSha) as AuditEntry | undefined;
  }

  latestCi(sha: string): { result: CiResult; user: string; at: string } | null {
    return (
      (this.db.prepare("SELECT result, user, at FROM ci_results WHERE sha = ? ORDER BY id DESC LIMIT 1").get(sha) as
        { result: CiResult; user: string; at: string } | undefined) ?? null
    );
  }

  // --- settings (baseline, freeze) ----------------------------------------

  getSetting(key: string): string | null {
    const row = this.db.prepare("SELECT value FROM settings WHERE key = ?").get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  /** Set or clear a setting and audit it, atomically. */
  setSetting(key: string, value: string | null, audit: AuditRow): void {
    this.write(() => {
      if (value === null) this.db.prepare("DELETE FROM settings WHERE key = ?").run(key);
      else
        this.db
          .prepare("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
          .run(key, value);
      this.audit([audit]);
    });
    if (key === "baseline") this.noteBaseline();
  }

  /**
   * Keep prodgate/baseline in step with the baseline setting: the post-receive
   * shim reads it to ask git for stable's mainline while Node starts. Only a
   * hint: a stale one costs a git process, never a wrong answer.
   */
  noteBaseline(): void {
    const value = this.getSetting("baseline");
    const file = join(dirname(this.path), "baseline");
    try {
      if (value === null) rmSync(file, { force: true });
      else writeFileSync(file, `${value}\n`);
    } catch {
      // Only a hint.
    }
  }

  // --- mirror runs ---------------------------------------------------------

  startMirrorRun(run: {
    trigger: string;
    fromSha: string | null;
    toSha: string | null;
    deployableSha: string | null;
    deployableRevno: number | null;
  }): number {
    const info = this.db
      .prepare(
        `INSERT INTO mirror_runs (started_at, pid, trigger, outcome, from_sha, to_sha, deployable_sha, deployable_revno)
         VALUES (?, ?, ?, 'running', ?, ?, ?, ?)`,
      )
      .run(now(), process.pid, run.trigger, run.fromSha, run.toSha, run.deployableSha, run.deployableRevno);
    return Number(info.lastInsertRowid);
  }

  finishMirrorRun(
    id: number,
    outcome: string,
    detail: string | null,
    toSha: string | null,
    audit: AuditRow | null,
    events: readonly EventDraft[] = [],
  ): void {
    this.write(() => {
      this.db
        .prepare("UPDATE mirror_runs SET finished_at = ?, outcome = ?, detail = ?, to_sha = coalesce(?, to_sha) WHERE id = ?")
        .run(now(), outcome, detail, toSha, id);
      if (audit) this.audit([audit]);
      this.emit(events);
    });
  }

  unfinishedMirrorRuns(): MirrorRun[] {
    return this.db.prepare(`${MIRROR_SELECT} WHERE outcome = 'running' ORDER BY id`).all() as MirrorRun[];
  }

  lastMirrorRun(): MirrorRun | null {
    return (this.db.prepare(`${MIRROR_SELECT} WHERE outcome != 'running' ORDER BY id DESC LIMIT 1`).get() as MirrorRun | undefined) ?? null;
  }

  // --- security fixes ------------------------------------------------------

  addFixes(fixes: readonly { sha: string; subject: string; patchId: string | null }[], promotedBy: string, pushId: string | null): number {
    let added = 0;
    const insert = this.db.prepare(
      `INSERT INTO fixes (sha, subject, patch_id, promoted_by, promoted_at, push_id) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(sha) DO NOTHING`,
    );
    const audit = this.db.prepare(`INSERT INTO audit (at, push_id, user, new, decision, reason) VALUES (?, ?, ?, ?, 'fix', ?)`);
    this.write(() => {
      const at = this.stamp();
      for (const f of fixes) {
        if (insert.run(f.sha, f.subject, f.patchId, promotedBy, at, pushId).changes > 0) {
          added++;
          audit.run(at, pushId, promotedBy, f.sha, `security fix recorded: ${f.subject}`);
          this.emit([{ type: "fix.promoted", actor: promotedBy, data: { sha: f.sha, subject: f.subject, pushId } }], at);
        }
      }
    });
    return added;
  }

  /** Cherry-pick trailers whose fix's change the branch did not hold (audit rows merge-back/disputed), oldest first. */
  disputedClaims(): { fix: string; commit: string; branch: FixBranch }[] {
    return this.mergeBackRows("disputed");
  }

  /** Fixes merged into a branch whose tree then no longer held their change (audit rows merge-back/reverted), oldest first. */
  revertedFixes(): { fix: string; commit: string; branch: FixBranch }[] {
    return this.mergeBackRows("reverted");
  }

  private mergeBackRows(code: "disputed" | "reverted"): { fix: string; commit: string; branch: FixBranch }[] {
    const rows = this.db.prepare("SELECT old, new, ref FROM audit WHERE decision = 'merge-back' AND code = ? ORDER BY id").all(code) as {
      old: string;
      new: string;
      ref: string;
    }[];
    return rows
      .filter((r) => r.ref === "devel" || r.ref === "stable")
      .map((r) => ({ fix: r.old, commit: r.new, branch: r.ref as FixBranch }));
  }

  fixes(): SecurityFix[] {
    const rows = this.db.prepare("SELECT * FROM fixes ORDER BY promoted_at, rowid").all() as Record<string, string | null>[];
    const reached = (row: Record<string, string | null>, b: FixBranch): Reached | null =>
      row[`${b}_sha`] ? { sha: row[`${b}_sha`]!, at: row[`${b}_at`]!, how: row[`${b}_how`] as FixHow, by: row[`${b}_by`] ?? null } : null;
    return rows.map((row) => ({
      sha: row.sha!,
      subject: row.subject!,
      patchId: row.patch_id ?? null,
      promotedBy: row.promoted_by!,
      promotedAt: row.promoted_at!,
      pushId: row.push_id ?? null,
      devel: reached(row, "devel"),
      stable: reached(row, "stable"),
      retired: row.retired_at ? { at: row.retired_at, by: row.retired_by ?? "", reason: row.retired_reason ?? "" } : null,
      heldAt: row.held_at ?? null,
      paths: fixPaths(row.paths ?? null),
    }));
  }

  /**
   * Retire a security fix: production-stable no longer has to hold its change.
   * Audited (decision fix, code retired, the reason in detail) with a
   * fix.retired event, in one transaction. False when it was retired already.
   */
  retireFix(fixSha: string, user: string, reason: string): boolean {
    return this.write(() => {
      const at = this.stamp();
      const changes = this.db
        .prepare("UPDATE fixes SET retired_at = ?, retired_by = ?, retired_reason = ? WHERE sha = ? AND retired_at IS NULL")
        .run(at, user, reason, fixSha).changes;
      if (changes === 0) return false;
      const subject = this.db.prepare("SELECT subject FROM fixes WHERE sha = ?").pluck().get(fixSha) as string | undefined;
      this.audit([
        {
          at,
          user,
          new: fixSha,
          decision: "fix",
          code: "retired",
          reason: `security fix ${shortSha(fixSha)} retired: production-stable no longer has to hold its change`,
          detail: reason,
        },
      ]);
      this.emit([{ type: "fix.retired", actor: user, data: { fix: fixSha, subject: subject ?? null, reason } }], at);
      return true;
    });
  }

  /** Remember that these fixes' change was verified held at `commit` (a commit production-stable moved to). */
  /** Remember the paths each of these fixes' commits changed (or that the repository lacks it): asked once per fix. */
  setFixPaths(paths: ReadonlyMap<string, readonly string[] | "absent">): void {
    if (paths.size === 0) return;
    const update = this.db.prepare("UPDATE fixes SET paths = ? WHERE sha = ? AND paths IS NULL");
    this.write(() => {
      for (const [sha, p] of paths) update.run(JSON.stringify(p), sha);
    });
  }

  setFixesHeldAt(shas: readonly string[], commit: string): void {
    if (shas.length === 0) return;
    const update = this.db.prepare("UPDATE fixes SET held_at = ? WHERE sha = ?");
    this.write(() => {
      for (const sha of shas) update.run(commit, sha);
    });
  }

  /** Record where a fix reached a branch; a fix already recorded there keeps its first record. */
  markFixReached(branch: FixBranch, fixSha: string, reached: Reached, pushId: string | null, note: string | null = null): boolean {
    return this.write(() => {
      const changes = this.db
        .prepare(
          `UPDATE fixes SET ${branch}_sha = ?, ${branch}_at = ?, ${branch}_how = ?, ${branch}_by = ? WHERE sha = ? AND ${branch}_sha IS NULL`,
        )
        .run(reached.sha, reached.at, reached.how, reached.by, fixSha).changes;
      if (changes > 0) {
        this.audit([
          {
            at: reached.at,
            pushId,
            user: reached.by,
            ref: branch,
            new: reached.sha,
            decision: "merge-back",
            code: reached.how,
            reason:
              reached.how === "acknowledged"
                ? `security fix ${shortSha(fixSha)} acknowledged back in ${branch} by hand`
                : `security fix ${shortSha(fixSha)} reached ${branch} by ${reached.how}`,
            detail: note,
          },
        ]);
        const subject = this.db.prepare("SELECT subject FROM fixes WHERE sha = ?").pluck().get(fixSha) as string | undefined;
        this.emit([
          {
            type: "fix.back",
            actor: reached.by,
            data: { fix: fixSha, subject: subject ?? null, branch, sha: reached.sha, how: reached.how, ...(note !== null ? { note } : {}) },
          },
        ]);
      }
      return changes > 0;
    });
  }

  // --- trusted message markers ---------------------------------------------

  /** Remember that `user`, holding `role`, pushed these marker-carrying commits onto `ref`; a commit already vouched for keeps its first row. */
  recordTrustedMarkers(shas: readonly string[], role: string, user: string, ref: string, pushId: string | null): void {
    if (shas.length === 0) return;
    const at = now();
    const insert = this.db.prepare("INSERT OR IGNORE INTO trusted_markers (sha, role, user, at, push_id, ref) VALUES (?, ?, ?, ?, ?, ?)");
    this.write(() => {
      for (const sha of shas) insert.run(sha, role, user, at, pushId, ref);
    });
  }

  /** Of these commits, those whose markers a holder of `role` vouched for, with who pushed them. */
  trustedMarkers(shas: readonly string[], role: string): Map<string, { user: string; role: string }> {
    const result = new Map<string, { user: string; role: string }>();
    if (shas.length === 0) return result;
    const rows = this.db
      .prepare(
        `SELECT t.sha, t.user, t.role FROM json_each(?) AS wanted
           JOIN trusted_markers AS t ON t.sha = wanted.value AND t.role = ?`,
      )
      .all(JSON.stringify(shas), role) as { sha: string; user: string; role: string }[];
    for (const row of rows) result.set(row.sha, { user: row.user, role: row.role });
    return result;
  }

  // --- revision numbers (a cache: losing a write costs a recount, never a wrong answer) ---

  knownRevnos(shas: readonly string[]): Map<string, number> {
    const found = new Map<string, number>();
    for (let i = 0; i < shas.length; i += 500) {
      const chunk = shas.slice(i, i + 500);
      const rows = this.db.prepare(`SELECT sha, revno FROM revnos WHERE sha IN (${chunk.map(() => "?").join(",")})`).all(...chunk) as {
        sha: string;
        revno: number;
      }[];
      for (const row of rows) found.set(row.sha, row.revno);
    }
    return found;
  }

  rememberRevno(sha: string, revno: number): void {
    try {
      this.db.prepare("INSERT OR IGNORE INTO revnos (sha, revno) VALUES (?, ?)").run(sha, revno);
    } catch {
      // A read-only or busy database only loses the shortcut.
    }
  }

  /**
   * The tip `ref` had before an admin's override last deleted it (a deletion
   * that did not fail to land), or null when it was never deleted: a branch
   * that comes back must continue that history.
   */
  tipBeforeDeletion(ref: string): string | null {
    const row = this.db
      .prepare(
        `SELECT a.old FROM audit a LEFT JOIN landing l ON l.audit_id = a.id
         WHERE a.ref = ? AND a.decision = 'override' AND a.old IS NOT NULL AND a.new GLOB '0*' AND replace(a.new, '0', '') = ''
           AND a.old GLOB '*[1-9a-f]*' AND (l.landed IS NULL OR l.landed = 1)
         ORDER BY a.id DESC LIMIT 1`,
      )
      .get(ref) as { old: string } | undefined;
    return row?.old ?? null;
  }

  scanMark(branch: string): string | null {
    return (this.db.prepare("SELECT sha FROM scan_marks WHERE branch = ?").get(branch) as { sha: string } | undefined)?.sha ?? null;
  }

  /** The mark before the last advance (see setScanMark), or null. */
  previousScanMark(branch: string): string | null {
    return (
      (this.db.prepare("SELECT prev FROM scan_marks WHERE branch = ?").get(branch) as { prev: string | null } | undefined)?.prev ?? null
    );
  }

  /** Move the scan mark from `from` to `to` only if it is still at `from`; false when it is elsewhere or unset. */
  advanceScanMark(branch: string, from: string, to: string): boolean {
    return this.write(() => {
      if (this.scanMark(branch) !== from) return false;
      this.setScanMark(branch, to);
      return true;
    });
  }

  /** Set the mark, keeping the one it replaces as the previous mark (unless it is the same). */
  setScanMark(branch: string, sha: string): void {
    this.db
      .prepare(
        `INSERT INTO scan_marks (branch, sha) VALUES (?, ?) ON CONFLICT(branch) DO UPDATE
         SET prev = CASE WHEN scan_marks.sha = excluded.sha THEN scan_marks.prev ELSE scan_marks.sha END, sha = excluded.sha`,
      )
      .run(branch, sha);
  }

  // --- events: the outbox and its deliveries ----------------------------------

  /** How many events this Store object wrote (whoever wrote some starts the deliverer). */
  eventsWritten = 0;

  /** Write events; only ever inside the write transaction of the change they tell of. */
  private emit(events: readonly EventDraft[], at?: string): void {
    if (events.length === 0) return;
    const insert = this.db.prepare("INSERT INTO events (uid, type, at, actor, data) VALUES (?, ?, ?, ?, ?)");
    const uids = randomUuids(events.length);
    events.forEach((e, i) => insert.run(uids[i], e.type, at ?? now(), e.actor, JSON.stringify(e.data)));
    this.eventsWritten += events.length;
  }

  /** Write events in the caller's transaction (inside Store.write), for a change it makes there. */
  emitEvents(events: readonly EventDraft[]): void {
    this.emit(events);
  }

  /**
   * sync's reminder: one fix.overdue per fix and UTC day. Returns how many
   * were raised.
   */
  raiseOverdue(fixes: readonly { sha: string; subject: string; promotedAt: string; days: number; missing: string[] }[]): number {
    const day = now().slice(0, 10);
    const seen = this.db.prepare(
      "SELECT 1 FROM events WHERE type = 'fix.overdue' AND json_extract(data, '$.sha') = ? AND substr(at, 1, 10) = ? LIMIT 1",
    );
    return this.write(() => {
      let raised = 0;
      for (const f of fixes) {
        if (seen.get(f.sha, day)) continue;
        this.emit([
          {
            type: "fix.overdue",
            actor: "prodgate",
            data: { sha: f.sha, subject: f.subject, promotedAt: f.promotedAt, days: f.days, missing: f.missing },
          },
        ]);
        raised++;
      }
      return raised;
    });
  }

  /**
   * Endpoints seen for the first time get the events written from now on.
   * Read first, so a push with nothing new to register writes nothing.
   */
  registerEndpoints(keys: readonly string[]): void {
    if (keys.length === 0) return;
    const known = new Set(this.db.prepare("SELECT name FROM event_endpoints").pluck().all() as string[]);
    const added = keys.filter((k) => !known.has(k));
    if (added.length === 0) return;
    this.write(() => {
      const last = (this.db.prepare("SELECT max(id) FROM events").pluck().get() as number | null) ?? 0;
      const insert = this.db.prepare("INSERT OR IGNORE INTO event_endpoints (name, scanned, since) VALUES (?, ?, ?)");
      for (const k of added) insert.run(k, last, now());
    });
  }

  /** Queue, for an endpoint, the events written since it was last looked at whose type it wants. */
  queueDeliveries(endpoint: string, wants: (type: string) => boolean): number {
    const scannedBefore = this.db.prepare("SELECT scanned FROM event_endpoints WHERE name = ?").pluck().get(endpoint) as number | undefined;
    // Nothing new: no write transaction (a deliverer waiting on retries asks every second).
    if (scannedBefore === undefined || scannedBefore >= this.lastEventId()) return 0;
    return this.write(() => {
      const scanned = this.db.prepare("SELECT scanned FROM event_endpoints WHERE name = ?").pluck().get(endpoint) as number | undefined;
      if (scanned === undefined) return 0;
      const rows = this.db.prepare("SELECT id, type FROM events WHERE id > ? ORDER BY id").all(scanned) as { id: number; type: string }[];
      if (rows.length === 0) return 0;
      const insert = this.db.prepare("INSERT OR IGNORE INTO deliveries (event_id, endpoint, state) VALUES (?, ?, 'pending')");
      let queued = 0;
      for (const r of rows) if (wants(r.type)) queued += insert.run(r.id, endpoint).changes;
      this.db.prepare("UPDATE event_endpoints SET scanned = ? WHERE name = ?").run(rows.at(-1)!.id, endpoint);
      return queued;
    });
  }

  /** The highest event id, to notice events written while the deliverer waited. */
  lastEventId(): number {
    return (this.db.prepare("SELECT max(id) FROM events").pluck().get() as number | null) ?? 0;
  }

  /**
   * An endpoint's next delivery, in event order: the oldest one not yet
   * delivered or given up. Later events wait behind it, so each endpoint gets
   * events in the order they were written.
   */
  headDelivery(endpoint: string): QueuedDelivery | null {
    const row = this.db
      .prepare(
        `SELECT d.event_id AS eventId, d.endpoint, d.state, d.attempts, d.first_attempt_at AS firstAttemptAt, d.next_at AS nextAt,
           e.uid, e.type, e.at, e.actor, e.data
         FROM deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.endpoint = ? AND d.state IN ('pending', 'retrying') ORDER BY d.event_id LIMIT 1`,
      )
      .get(endpoint) as
      (Omit<QueuedDelivery, "event"> & { uid: string; type: string; at: string; actor: string | null; data: string }) | undefined;
    if (!row) return null;
    const { uid, type, at, actor, data, ...rest } = row;
    return { ...rest, event: { id: uid, type: type as EventType, at, actor, data: JSON.parse(data) as Record<string, unknown> } };
  }

  /** The earliest time a waiting delivery of any of these endpoints is due, or null. */
  nextDue(endpoints: readonly string[]): string | null {
    if (endpoints.length === 0) return null;
    return (
      (this.db
        .prepare(
          `SELECT min(coalesce(next_at, '')) FROM deliveries WHERE state IN ('pending', 'retrying')
           AND endpoint IN (SELECT value FROM json_each(?))`,
        )
        .pluck()
        .get(JSON.stringify(endpoints)) as string | null) ?? null
    );
  }

  /** Record an attempt's outcome: delivered, retrying at `nextAt`, or failed for good. */
  recordAttempt(
    eventId: number,
    endpoint: string,
    outcome: { state: "delivered" | "retrying" | "failed"; status: string; nextAt: string | null },
  ): void {
    const at = now();
    this.write(() => {
      this.db
        .prepare(
          `UPDATE deliveries SET state = ?, attempts = attempts + 1, last_status = ?, first_attempt_at = coalesce(first_attempt_at, ?),
             last_attempt_at = ?, next_at = ? WHERE event_id = ? AND endpoint = ?`,
        )
        .run(outcome.state, outcome.status, at, at, outcome.nextAt, eventId, endpoint);
    });
  }

  /** Note why an endpoint's deliveries wait without an attempt (its configuration is incomplete). */
  noteWaiting(eventId: number, endpoint: string, why: string): void {
    this.write(() => {
      this.db
        .prepare("UPDATE deliveries SET last_status = ? WHERE event_id = ? AND endpoint = ? AND state = 'pending'")
        .run(why, eventId, endpoint);
    });
  }

  /** An event by its id (the uid receivers see), with its row number; null when there is none. */
  eventById(uid: string): { rowId: number; event: StoredEvent } | null {
    const row = this.db.prepare("SELECT id, uid, type, at, actor, data FROM events WHERE uid = ?").get(uid) as
      { id: number; uid: string; type: string; at: string; actor: string | null; data: string } | undefined;
    if (!row) return null;
    return { rowId: row.id, event: { id: row.uid, type: row.type as EventType, at: row.at, actor: row.actor, data: JSON.parse(row.data) } };
  }

  /** Make sure a delivery row exists (for a redelivery to an endpoint that never had one). */
  ensureDelivery(eventId: number, endpoint: string): void {
    this.write(() => {
      this.db.prepare("INSERT OR IGNORE INTO deliveries (event_id, endpoint, state) VALUES (?, ?, 'pending')").run(eventId, endpoint);
    });
  }

  deliveriesOf(eventRowId: number): DeliveryState[] {
    return this.db
      .prepare(
        "SELECT endpoint, state, attempts, last_status AS lastStatus, next_at AS nextAt FROM deliveries WHERE event_id = ? ORDER BY endpoint",
      )
      .all(eventRowId) as DeliveryState[];
  }

  /** Events newest first, each with its deliveries. */
  eventList(filter: { type?: string; failed?: boolean; limit: number }): EventWithDeliveries[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: filter.limit };
    if (filter.type) {
      where.push("type GLOB @type");
      params.type = filter.type;
    }
    if (filter.failed)
      where.push("EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.state != 'delivered' AND d.attempts > 0)");
    const rows = this.db
      .prepare(
        `SELECT id, uid, type, at, actor, data FROM events ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT @limit`,
      )
      .all(params) as { id: number; uid: string; type: string; at: string; actor: string | null; data: string }[];
    return rows.map((r) => ({
      id: r.uid,
      type: r.type as EventType,
      at: r.at,
      actor: r.actor,
      data: JSON.parse(r.data) as Record<string, unknown>,
      deliveries: this.deliveriesOf(r.id),
    }));
  }

  // --- operations: deployments and cowboys ----------------------------------

  /**
   * Record that each target now runs a revision, with its audit row and the
   * cowboys it retires there, in one transaction. A tag records once (its
   * source is `tag <ref>`). Returns the new records' ids (none when the tag
   * was recorded already).
   */
  recordDeployments(
    records: readonly { target: string; sha: string; onProduction: boolean; retires: readonly CowboyRetirement[] }[],
    by: { user: string; note: string | null; source: string; pushId: string | null },
  ): number[] {
    return this.insertDeployments(records, by, null).map((r) => r.id);
  }

  /**
   * Record a deploy tag that pre-receive accepted (audit row `accepted`) and
   * post-receive never recorded, as of its acceptance: when a deployment on
   * its target took effect since, that one stands, and the tag is kept as
   * history only (superseded_by, an audit row `deploy`/`superseded`, no
   * event, no cowboy retired); else it is recorded as post-receive would
   * have. Null when the tag was recorded already.
   */
  recordLateDeployment(
    record: { target: string; sha: string; onProduction: boolean; retires: readonly CowboyRetirement[] },
    by: { user: string; note: string | null; source: string; pushId: string | null },
    accepted: { id: number; at: string },
  ): { id: number; supersededBy: DeploymentRecord | null } | null {
    return this.insertDeployments([record], by, accepted)[0] ?? null;
  }

  private insertDeployments(
    records: readonly { target: string; sha: string; onProduction: boolean; retires: readonly CowboyRetirement[] }[],
    by: { user: string; note: string | null; source: string; pushId: string | null },
    accepted: { id: number; at: string } | null,
  ): { id: number; supersededBy: DeploymentRecord | null }[] {
    const insert = this.db.prepare(
      `INSERT INTO deployments (target, sha, at, user, note, source, on_production, push_id, effect_audit_id, superseded_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const retire = this.db.prepare(
      `UPDATE cowboy_targets SET retired_at = ?, retired_sha = ?, retired_how = ?, retired_commit = ?, retired_deployment = ?
       WHERE cowboy_id = ? AND target = ? AND retired_at IS NULL
         AND (SELECT removed_at FROM cowboys WHERE id = cowboy_id) IS NULL`,
    );
    // The deployment on a target that stands and took effect after an audit row (a row from before effect_audit_id is placed by its time).
    const newer = this.db.prepare(
      `${DEPLOY_SELECT} WHERE target = ? AND superseded_by IS NULL AND (effect_audit_id > ? OR (effect_audit_id IS NULL AND at > ?))
       ORDER BY id DESC LIMIT 1`,
    );
    const lastAudit = this.db.prepare("SELECT max(id) AS id FROM audit");
    const auditDeploy = (r: { target: string; sha: string }, code: string, reason: string, detail: string) =>
      this.audit([{ pushId: by.pushId, user: by.user, ref: `deploy/${r.target}`, new: r.sha, decision: "deploy", code, reason, detail }]);
    return this.write(() => {
      if (by.source.startsWith("tag ") && this.db.prepare("SELECT 1 FROM deployments WHERE source = ? LIMIT 1").get(by.source)) return [];
      const at = this.stamp();
      const done: { id: number; supersededBy: DeploymentRecord | null }[] = [];
      for (const r of records) {
        const stands = accepted ? (newer.get(r.target, accepted.id, accepted.at) as DeployRow | undefined) : undefined;
        if (stands) {
          const newerOne = deploymentOfRow(stands);
          auditDeploy(
            r,
            "superseded",
            `${r.target} ran ${shortSha(r.sha)} as of ${accepted!.at}, when the tag was accepted (recorded late); ` +
              `not what runs there: the newer deployment stands: ${shortSha(newerOne.sha)} by ${newerOne.user} at ${newerOne.at} (${newerOne.source})`,
            by.source,
          );
          const id = Number(
            insert.run(r.target, r.sha, at, by.user, by.note, by.source, r.onProduction ? 1 : 0, by.pushId, accepted!.id, newerOne.id)
              .lastInsertRowid,
          );
          done.push({ id, supersededBy: newerOne });
          continue;
        }
        auditDeploy(
          r,
          r.onProduction ? "on-production" : "off-production",
          `${r.target} runs ${shortSha(r.sha)}${r.onProduction ? "" : ", which is not on production-stable"}`,
          by.note ? `${by.source}: ${by.note}` : by.source,
        );
        // The write lock is held: the newest audit row is this one.
        const effect = accepted ? accepted.id : (lastAudit.get() as { id: number }).id;
        const id = Number(
          insert.run(r.target, r.sha, at, by.user, by.note, by.source, r.onProduction ? 1 : 0, by.pushId, effect, null).lastInsertRowid,
        );
        done.push({ id, supersededBy: null });
        this.emit(
          [
            {
              type: "deploy.recorded",
              actor: by.user,
              data: { id, target: r.target, sha: r.sha, onProduction: r.onProduction, note: by.note, source: by.source },
            },
          ],
          at,
        );
        for (const c of r.retires) {
          if (retire.run(at, r.sha, c.how, c.commit, id, c.cowboyId, r.target).changes === 0) continue;
          this.opsRecord(
            {
              at,
              pushId: by.pushId,
              user: by.user,
              ref: `deploy/${r.target}`,
              new: r.sha,
              decision: "cowboy",
              code: "retired",
              reason: `cowboy #${c.cowboyId} retired on ${r.target}: ${shortSha(r.sha)} holds its fix (${c.how}, ${shortSha(c.commit)})`,
            },
            "cowboy.retired",
            { id: c.cowboyId, target: r.target, sha: r.sha, how: c.how, commit: c.commit, deployment: id },
          );
        }
      }
      return done;
    });
  }

  /**
   * Deployment records, newest first: of one target, or of all. A deploy tag
   * recorded late is placed by its acceptance, and one a newer deployment
   * overtook says so (supersededBy).
   */
  deployments(target?: string, limit = 1000): DeploymentRecord[] {
    const order = "ORDER BY effect_audit_id IS NOT NULL DESC, coalesce(effect_audit_id, 0) DESC, id DESC LIMIT ?";
    const rows = (
      target === undefined
        ? this.db.prepare(`${DEPLOY_SELECT} ${order}`).all(limit)
        : this.db.prepare(`${DEPLOY_SELECT} WHERE target = ? ${order}`).all(target, limit)
    ) as DeployRow[];
    return rows.map(deploymentOfRow);
  }

  /** Each target's last record (the deployment that stands there), by target name. */
  lastDeployments(): DeploymentRecord[] {
    const rows = this.db
      .prepare(`${DEPLOY_SELECT} WHERE id IN (SELECT max(id) FROM deployments WHERE superseded_by IS NULL GROUP BY target) ORDER BY target`)
      .all() as DeployRow[];
    return rows.map(deploymentOfRow);
  }

  /** Record a hot patch applied by hand on these targets (with what each ran then), and its audit row. */
  addCowboy(c: {
    commit: string | null;
    patchId: string | null;
    patch: string | null;
    reason: string;
    user: string;
    targets: readonly { target: string; base: string | null }[];
  }): number {
    return this.write(() => {
      const at = this.stamp();
      const id = Number(
        this.db
          .prepare("INSERT INTO cowboys (commit_sha, patch_id, patch, reason, user, at) VALUES (?, ?, ?, ?, ?, ?)")
          .run(c.commit, c.patchId, c.patch, c.reason, c.user, at).lastInsertRowid,
      );
      const insert = this.db.prepare("INSERT INTO cowboy_targets (cowboy_id, target, base) VALUES (?, ?, ?)");
      for (const t of c.targets) insert.run(id, t.target, t.base);
      this.opsRecord(
        {
          at,
          user: c.user,
          new: c.commit,
          decision: "cowboy",
          code: "added",
          reason: `cowboy #${id} on ${c.targets.map((t) => t.target).join(", ")}: ${c.reason}`,
          detail: c.commit ? `commit ${c.commit}` : `patch-id ${c.patchId}`,
        },
        "cowboy.added",
        { id, targets: c.targets.map((t) => t.target), commit: c.commit, patchId: c.patchId, reason: c.reason },
      );
      return id;
    });
  }

  /** Remove a cowboy everywhere (an operator's word: it is no longer applied). False when there is no such live cowboy. */
  removeCowboy(id: number, user: string, reason: string): boolean {
    return this.write(() => {
      const at = this.stamp();
      const changed = this.db
        .prepare("UPDATE cowboys SET removed_at = ?, removed_by = ?, removed_reason = ? WHERE id = ? AND removed_at IS NULL")
        .run(at, user, reason, id).changes;
      if (changed === 0) return false;
      this.opsRecord({ at, user, decision: "cowboy", code: "removed", reason: `cowboy #${id} removed: ${reason}` }, "cowboy.removed", {
        id,
        reason,
      });
      return true;
    });
  }

  /** A deployment or cowboy change's audit row and its event, in the caller's transaction. */
  private opsRecord(row: AuditRow & { at: string }, type: EventType, data: Record<string, unknown>): void {
    this.audit([row]);
    this.emit([{ type, actor: row.user, data }], row.at);
  }

  cowboys(): Cowboy[] {
    const rows = this.db.prepare("SELECT * FROM cowboys ORDER BY id").all() as Record<string, string | number | null>[];
    const targets = this.db.prepare("SELECT * FROM cowboy_targets ORDER BY cowboy_id, target").all() as Record<
      string,
      string | number | null
    >[];
    return rows.map((r) => {
      const removed = r.removed_at ? { at: r.removed_at as string, by: r.removed_by as string, reason: r.removed_reason as string } : null;
      return {
        id: r.id as number,
        commit: (r.commit_sha as string | null) ?? null,
        patchId: (r.patch_id as string | null) ?? null,
        patch: (r.patch as string | null) ?? null,
        reason: r.reason as string,
        by: r.user as string,
        at: r.at as string,
        removed,
        targets: targets
          .filter((t) => t.cowboy_id === r.id)
          .map((t) => ({
            target: t.target as string,
            base: (t.base as string | null) ?? null,
            live: !removed && t.retired_at === null,
            retiredAt: (t.retired_at as string | null) ?? null,
            retiredBy: t.retired_at
              ? { sha: t.retired_sha as string, how: t.retired_how as CowboyHow, commit: t.retired_commit as string }
              : null,
          })),
      };
    });
  }
}

const DEPLOY_SELECT = `SELECT id, target, sha, at, user, note, source, on_production AS onProduction, push_id AS pushId,
  (SELECT at FROM audit WHERE audit.id = deployments.effect_audit_id AND audit.decision = 'accepted') AS acceptedAt,
  superseded_by AS supersededBy FROM deployments`;

type DeployRow = Omit<DeploymentRecord, "onProduction"> & { onProduction: number };

function deploymentOfRow(r: DeployRow): DeploymentRecord {
  return { ...r, onProduction: r.onProduction === 1 };
}

export interface DeploymentRecord {
  id: number;
  target: string;
  sha: string;
  at: string;
  user: string;
  note: string | null;
  source: string;
  onProduction: boolean;
  pushId: string | null;
  /** For a deploy tag recorded late: when pre-receive accepted it, which is when it took effect; else null. */
  acceptedAt: string | null;
  /** For a deploy tag recorded late after a newer deployment: that deployment's id (this one is history, not what runs). */
  supersededBy: number | null;
}

export interface CowboyRetirement {
  cowboyId: number;
  how: CowboyHow;
  /** The commit that brought the fix (the fix itself for ancestry). */
  commit: string;
}

export interface CowboyTarget {
  target: string;
  base: string | null;
  live: boolean;
  retiredAt: string | null;
  retiredBy: { sha: string; how: CowboyHow; commit: string } | null;
}

export interface Cowboy {
  id: number;
  commit: string | null;
  patchId: string | null;
  patch: string | null;
  reason: string;
  by: string;
  at: string;
  removed: { at: string; by: string; reason: string } | null;
  targets: CowboyTarget[];
}

const MIRROR_SELECT = `SELECT id, started_at AS startedAt, finished_at AS finishedAt, pid, trigger, outcome,
  from_sha AS fromSha, to_sha AS toSha, deployable_sha AS deployableSha, deployable_revno AS deployableRevno, detail FROM mirror_runs`;

export interface StoredEvent {
  id: string;
  type: EventType;
  at: string;
  actor: string | null;
  data: Record<string, unknown>;
}

export interface DeliveryState {
  endpoint: string;
  state: "pending" | "retrying" | "delivered" | "failed";
  attempts: number;
  lastStatus: string | null;
  nextAt: string | null;
}

export interface EventWithDeliveries extends StoredEvent {
  deliveries: DeliveryState[];
}

export interface QueuedDelivery {
  eventId: number;
  endpoint: string;
  state: "pending" | "retrying";
  attempts: number;
  firstAttemptAt: string | null;
  nextAt: string | null;
  event: StoredEvent;
}

/** A fix's stored paths (see SecurityFix.paths); anything unreadable counts as not yet asked. */
function fixPaths(text: string | null): string[] | "absent" | null {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    if (value === "absent") return value;
    return Array.isArray(value) && value.every((p) => typeof p === "string") ? (value as string[]) : null;
  } catch {
    return null;
  }
}

/**
 * `count` random UUIDs (version 4), the events' ids, from the kernel's random
 * source read directly: node:crypto's randomUUID draws from the same kind of
 * source, but loading node:crypto costs a hook about 4 ms, and a verdict push
 * writes events. node:crypto only where /dev/urandom cannot be read.
 */
function randomUuids(count: number): string[] {
  const bytes = Buffer.alloc(16 * count);
  let filled = 0;
  try {
    const fd = openSync("/dev/urandom", "r");
    try {
      while (filled < bytes.length) {
        const n = readSync(fd, bytes, filled, bytes.length - filled, null);
        if (n <= 0) break;
        filled += n;
      }
    } finally {
      closeSync(fd);
    }
  } catch {
    filled = 0;
  }
  if (filled < bytes.length) (require("node:crypto") as typeof Crypto).randomFillSync(bytes);
  const uids: string[] = [];
  for (let i = 0; i < count; i++) {
    const b = bytes.subarray(16 * i, 16 * i + 16);
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = b.toString("hex");
    uids.push(`${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`);
  }
  return uids;
}
