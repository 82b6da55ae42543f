// Versioned migrations. Each entry moves the schema from version i to i+1;
// PRAGMA user_version records where a database stands. Never edit a shipped
// migration: add a new one.
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    push_id TEXT,
    user TEXT,
    ref TEXT,
    old TEXT,
    new TEXT,
    decision TEXT NOT NULL,
    code TEXT,
    reason TEXT,
    detail TEXT
  );
  CREATE INDEX audit_ref ON audit(ref, id);
  CREATE INDEX audit_user ON audit(user, id);
  CREATE INDEX audit_decision ON audit(decision, id);
  -- The audit log is append-only.
  CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

  CREATE TABLE verdicts (
    id INTEGER PRIMARY KEY,
    sha TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('ok','bad','untestable','needstesting')),
    user TEXT NOT NULL,
    at TEXT NOT NULL,
    note TEXT,
    source TEXT NOT NULL
  );
  CREATE INDEX verdicts_sha ON verdicts(sha, id);

  CREATE TABLE ci_results (
    id INTEGER PRIMARY KEY,
    sha TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('pass','fail')),
    user TEXT NOT NULL,
    at TEXT NOT NULL,
    source TEXT NOT NULL
  );
  CREATE INDEX ci_results_sha ON ci_results(sha, id);

  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE mirror_runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    pid INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    outcome TEXT NOT NULL,
    from_sha TEXT,
    to_sha TEXT,
    deployable_sha TEXT,
    deployable_revno INTEGER,
    detail TEXT
  );

  CREATE TABLE fixes (
    sha TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    patch_id TEXT,
    promoted_by TEXT NOT NULL,
    promoted_at TEXT NOT NULL,
    push_id TEXT,
    devel_sha TEXT, devel_at TEXT, devel_how TEXT, devel_by TEXT,
    stable_sha TEXT, stable_at TEXT, stable_how TEXT, stable_by TEXT
  );
  CREATE INDEX fixes_patch_id ON fixes(patch_id);

  -- The tip each branch had when merge-back was last scanned, so scans cost the new commits only.
  CREATE TABLE scan_marks (branch TEXT PRIMARY KEY, sha TEXT NOT NULL);
  `,
  `
  -- Revision numbers already counted. A commit's revno never changes (its parents are part of
  -- its id), so a push counts only the commits since the nearest known one, not the whole history.
  CREATE TABLE revnos (sha TEXT PRIMARY KEY, revno INTEGER NOT NULL) WITHOUT ROWID;
  `,
  `
  -- A verdict or CI tag is recorded once: post-receive looks its source up on every such push,
  -- which without these read every verdict ever recorded.
  CREATE INDEX verdicts_source ON verdicts(source);
  CREATE INDEX ci_results_source ON ci_results(source);
  `,
  `
  -- Revision numbers counted before every git process ran with replace refs off could come
  -- from a pushed refs/replace/* rather than the real history: count them all again.
  DELETE FROM revnos;
  `,
  `
  -- Commits carrying [no-qa] or [testfix] that a holder of the trusted role (prodgate.markers.trust)
  -- pushed onto devel or stable: only their markers count. The first push is kept.
  CREATE TABLE trusted_markers (
    sha TEXT NOT NULL,
    role TEXT NOT NULL,
    user TEXT NOT NULL,
    at TEXT NOT NULL,
    push_id TEXT,
    ref TEXT,
    PRIMARY KEY (sha, role)
  ) WITHOUT ROWID;
  `,
  `
  -- Whether an accepted update of a governed ref really landed: the audit log records the
  -- decision (pre-receive), this table what git then did (post-receive, or sync from the refs).
  -- One row per accepted or overridden audit row; landed stays NULL until known, then never changes.
  CREATE TABLE landing (
    audit_id INTEGER PRIMARY KEY REFERENCES audit(id),
    receive TEXT,
    landed INTEGER CHECK (landed IN (0, 1)),
    settled_at TEXT,
    how TEXT
  );
  CREATE INDEX landing_unsettled ON landing(audit_id) WHERE landed IS NULL;
  CREATE TRIGGER landing_settled_once BEFORE UPDATE ON landing WHEN OLD.landed IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'a settled landing never changes'); END;
  CREATE TRIGGER landing_no_delete BEFORE DELETE ON landing BEGIN SELECT RAISE(ABORT, 'landings are never deleted'); END;

  -- The scan mark before the last advance: a mark that names a commit that never landed
  -- (its push died after pre-receive) falls back to it.
  ALTER TABLE scan_marks ADD COLUMN prev TEXT;
  `,
  `
  -- Operations: what runs where (one row per target and record, never changed), the hot patches
  -- applied by hand on servers ("cowboys"), and where each is applied until a deployment holding
  -- its fix retires it there or an operator removes it.
  CREATE TABLE deployments (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    sha TEXT NOT NULL,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    note TEXT,
    source TEXT NOT NULL,
    on_production INTEGER NOT NULL CHECK (on_production IN (0, 1)),
    push_id TEXT
  );
  CREATE INDEX deployments_target ON deployments(target, id);
  CREATE INDEX deployments_source ON deployments(source);
  CREATE TRIGGER deployments_no_update BEFORE UPDATE ON deployments BEGIN SELECT RAISE(ABORT, 'deployment records never change'); END;
  CREATE TRIGGER deployments_no_delete BEFORE DELETE ON deployments BEGIN SELECT RAISE(ABORT, 'deployment records never change'); END;

  CREATE TABLE cowboys (
    id INTEGER PRIMARY KEY,
    commit_sha TEXT,
    patch_id TEXT,
    patch TEXT,
    reason TEXT NOT NULL,
    user TEXT NOT NULL,
    at TEXT NOT NULL,
    removed_at TEXT,
    removed_by TEXT,
    removed_reason TEXT,
    CHECK ((commit_sha IS NULL) != (patch IS NULL))
  );
  CREATE TABLE cowboy_targets (
    cowboy_id INTEGER NOT NULL REFERENCES cowboys(id),
    target TEXT NOT NULL,
    -- What the target ran when the cowboy was added (a patch is looked for after it).
    base TEXT,
    retired_at TEXT,
    retired_sha TEXT,
    retired_how TEXT,
    retired_commit TEXT,
    retired_deployment INTEGER REFERENCES deployments(id),
    PRIMARY KEY (cowboy_id, target)
  ) WITHOUT ROWID;
  CREATE INDEX cowboy_targets_target ON cowboy_targets(target);
  `,
  // Verdicts given by ticket (prodgate qa ok --ticket N, qa/ok/ticket-N) keep the ticket they came through.
  `
  ALTER TABLE verdicts ADD COLUMN ticket TEXT;
  CREATE INDEX verdicts_ticket ON verdicts(ticket, id);
  `,
  `
  -- The event outbox: each row is written in the transaction of the change it tells of.
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT,
    data TEXT NOT NULL
  );
  CREATE INDEX events_type ON events(type, id);
  -- Endpoints (webhooks and mail) the deliverer has seen, and how far it has
  -- looked for events to hand each one: an endpoint gets the events written
  -- after prodgate first saw it configured.
  CREATE TABLE event_endpoints (
    name TEXT PRIMARY KEY,
    scanned INTEGER NOT NULL,
    since TEXT NOT NULL
  );
  CREATE TABLE deliveries (
    event_id INTEGER NOT NULL REFERENCES events(id),
    endpoint TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending','retrying','delivered','failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status TEXT,
    first_attempt_at TEXT,
    last_attempt_at TEXT,
    next_at TEXT,
    PRIMARY KEY (event_id, endpoint)
  ) WITHOUT ROWID;
  CREATE INDEX deliveries_endpoint ON deliveries(endpoint, state, event_id);
  `,
  `
  -- Bazaar: the revision index, a cache of what Breezy says about the shared
  -- repository's revisions (immutable, so none of this changes), closed under
  -- parents: every parent is a row here or a ghost below.
  CREATE TABLE bzr_revisions (
    id TEXT PRIMARY KEY,
    parents TEXT NOT NULL, -- JSON array, left-hand parent first, ghosts included
    message TEXT NOT NULL,
    revno INTEGER NOT NULL,
    gen INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- Parents the repository did not hold when indexed: filling one changes revnos, so the index is rebuilt.
  CREATE TABLE bzr_ghosts (id TEXT PRIMARY KEY) WITHOUT ROWID;
  -- The governed branches' tips as last checked against Breezy (revno as the branch states it).
  -- settled: the branch states a revno its history does not give, and a rebuild from Breezy confirmed the history's.
  CREATE TABLE bzr_tips (branch TEXT PRIMARY KEY, id TEXT NOT NULL, revno INTEGER NOT NULL, settled INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
  `,
  // The newest verdict of each revision through each ticket (Store.verdictChannels), read by every decision that walks stable.
  `
  CREATE INDEX verdicts_sha_ticket ON verdicts(sha, ticket, id);
  `,
  // Where each verdict and CI result takes effect in the audit log: its own audit row, or for a tag
  // recorded late (by sync) the tag's acceptance. Tells a late tag what came after it (Store.verdictsAfter, ciAfter).
  `
  ALTER TABLE verdicts ADD COLUMN effect_audit_id INTEGER;
  ALTER TABLE ci_results ADD COLUMN effect_audit_id INTEGER;
  `,
  // Where each deployment takes effect in the audit log, as verdicts do: its own audit row, or for a
  // deploy tag recorded late (by sync) the tag's acceptance. A late tag overtaken by a deployment
  // recorded since is kept as history, superseded_by naming the deployment that stood: never what runs.
  `
  ALTER TABLE deployments ADD COLUMN effect_audit_id INTEGER;
  ALTER TABLE deployments ADD COLUMN superseded_by INTEGER REFERENCES deployments(id);
  `,
  // Verdicts and CI results are records, as the audit log is: never changed once written. The walk
  // reads a verdict's user, time and note after its row (Store.verdictRows) on that promise.
  `
  CREATE TRIGGER verdicts_no_update BEFORE UPDATE ON verdicts BEGIN SELECT RAISE(ABORT, 'verdicts are never changed'); END;
  CREATE TRIGGER verdicts_no_delete BEFORE DELETE ON verdicts BEGIN SELECT RAISE(ABORT, 'verdicts are never changed'); END;
  CREATE TRIGGER ci_results_no_update BEFORE UPDATE ON ci_results BEGIN SELECT RAISE(ABORT, 'CI results are never changed'); END;
  CREATE TRIGGER ci_results_no_delete BEFORE DELETE ON ci_results BEGIN SELECT RAISE(ABORT, 'CI results are never changed'); END;
  `,
  // production-stable must keep every security fix's change: held_at is a commit at which the fix's
  // change was verified held (a move whose diff from there leaves the fix's paths alone keeps it);
  // a retired fix (superseded, say) is no longer required there, and who retired it, when and why stay.
  `
  ALTER TABLE fixes ADD COLUMN held_at TEXT;
  ALTER TABLE fixes ADD COLUMN retired_at TEXT;
  ALTER TABLE fixes ADD COLUMN retired_by TEXT;
  ALTER TABLE fixes ADD COLUMN retired_reason TEXT;
  `,
  // The paths each fix's commit changed (a JSON array), or "absent" when the repository lacks the
  // commit; NULL until first asked. A commit never changes, so git is asked once per fix.
  `
  ALTER TABLE fixes ADD COLUMN paths TEXT;
  `,
  // A commit where a fix's change was verified held by the check before it compared a submodule's
  // commit, a path's mode and kind of entry may not hold it: every fix is measured from itself again.
  `
  UPDATE fixes SET held_at = NULL;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
