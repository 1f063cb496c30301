-- pixq's embedded store: one file, one process (see mod.rs). Times are milliseconds since the
-- epoch, by the process's clock. Applied at every open; every statement is idempotent.

CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- Job records: the record as JSON, plus what the indexes need. A rowid table: its rows are
-- a kilobyte or two, too large to sit in the leaves of a WITHOUT ROWID b-tree. expire_at_ms is NULL while
-- the job is unfinished; a finished job is gone (to every reader) once it has passed.
CREATE TABLE IF NOT EXISTS jobs (
  id           TEXT PRIMARY KEY,
  state        TEXT NOT NULL,
  version      INTEGER NOT NULL,
  json         TEXT NOT NULL,
  batch        TEXT,
  created_ms   INTEGER NOT NULL,
  updated_ms   INTEGER NOT NULL,
  expire_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created_ms, id);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created_ms, id);
CREATE INDEX IF NOT EXISTS jobs_by_batch ON jobs (batch, created_ms, id) WHERE batch IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs (updated_ms) WHERE expire_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS jobs_expiring ON jobs (expire_at_ms) WHERE expire_at_ms IS NOT NULL;

-- Upstream task ids, each held by at most one job.
CREATE TABLE IF NOT EXISTS tasks (
  task_id TEXT PRIMARY KEY,
  job_id  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tasks_by_job ON tasks (job_id);

-- Idempotency keys and the first job made under each.
CREATE TABLE IF NOT EXISTS idempotency (
  key         TEXT PRIMARY KEY,
  job_id      TEXT NOT NULL,
  fingerprint TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_by_job ON idempotency (job_id);

-- Each job's next look (due_ms), the lease of the worker looking (holder, lease_until_ms),
-- and a look asked for while it was leased (rung_ms). A row with none of them is deleted.
CREATE TABLE IF NOT EXISTS schedule (
  job_id         TEXT PRIMARY KEY,
  due_ms         INTEGER,
  holder         TEXT,
  lease_until_ms INTEGER,
  rung_ms        INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS schedule_due ON schedule (due_ms) WHERE due_ms IS NOT NULL;
CREATE INDEX IF NOT EXISTS schedule_leased ON schedule (lease_until_ms)
  WHERE lease_until_ms IS NOT NULL;

-- Generation slots per token alias, each a lease.
CREATE TABLE IF NOT EXISTS slots (
  alias      TEXT NOT NULL,
  job_id     TEXT NOT NULL,
  expires_ms INTEGER NOT NULL,
  PRIMARY KEY (alias, job_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS slots_by_expiry ON slots (alias, expires_ms);
CREATE TABLE IF NOT EXISTS slot_aliases (alias TEXT PRIMARY KEY) WITHOUT ROWID;
-- How many rows `slots` holds per alias, kept by triggers: counting the live leases of a
-- busy token row by row cost a slot check more than everything else it does (thousands of
-- generations in flight). Rebuilt whenever the store opens.
CREATE TABLE IF NOT EXISTS slot_counts (
  alias TEXT PRIMARY KEY,
  held  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS slots_counted_in AFTER INSERT ON slots BEGIN
  INSERT INTO slot_counts (alias, held) VALUES (NEW.alias, 1)
    ON CONFLICT (alias) DO UPDATE SET held = held + 1;
END;
CREATE TRIGGER IF NOT EXISTS slots_counted_out AFTER DELETE ON slots BEGIN
  UPDATE slot_counts SET held = held - 1 WHERE alias = OLD.alias;
END;

-- Jobs waiting for a slot, by turn (seq): the k-th job of a batch to wait gets turn k, or the
-- line's first turn if that is later, so batches take turns; equal turns go by job id.
CREATE TABLE IF NOT EXISTS wait_line (
  alias  TEXT NOT NULL,
  job_id TEXT NOT NULL,
  seq    INTEGER NOT NULL,
  PRIMARY KEY (alias, job_id)
) WITHOUT ROWID;
DROP INDEX IF EXISTS wait_line_order;
CREATE INDEX IF NOT EXISTS wait_line_turns ON wait_line (alias, seq, job_id);

-- The last turn each batch ('' for jobs without one) was given in a line.
CREATE TABLE IF NOT EXISTS wait_lanes (
  alias TEXT NOT NULL,
  lane  TEXT NOT NULL,
  last  INTEGER NOT NULL,
  PRIMARY KEY (alias, lane)
) WITHOUT ROWID;

-- Batches: counts of their chains by state, kept in the same transaction as the steps that
-- move them. A batch 'writing' is invisible and none of its jobs is due; 'accepted' is the
-- batch users see. expire_at_ms is set when it finishes.
CREATE TABLE IF NOT EXISTS batches (
  id           TEXT PRIMARY KEY,
  status       TEXT NOT NULL,
  name         TEXT,
  webhook_url  TEXT,
  idem_key     TEXT,
  total        INTEGER NOT NULL DEFAULT 0,
  queued       INTEGER NOT NULL DEFAULT 0,
  running      INTEGER NOT NULL DEFAULT 0,
  succeeded    INTEGER NOT NULL DEFAULT 0,
  failed       INTEGER NOT NULL DEFAULT 0,
  cancelled    INTEGER NOT NULL DEFAULT 0,
  begun_ms     INTEGER NOT NULL,
  created_ms   INTEGER,
  finished_ms  INTEGER,
  expire_at_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batches_writing ON batches (begun_ms) WHERE status = 'writing';
CREATE INDEX IF NOT EXISTS batches_expiring ON batches (expire_at_ms)
  WHERE expire_at_ms IS NOT NULL;
CREATE INDEX IF NOT EXISTS batches_listed ON batches (created_ms, id) WHERE status = 'accepted';

-- A batch's chains (their first steps), in the order submitted.
CREATE TABLE IF NOT EXISTS batch_roots (
  batch  TEXT NOT NULL,
  idx    INTEGER NOT NULL,
  job_id TEXT NOT NULL,
  PRIMARY KEY (batch, idx)
) WITHOUT ROWID;

-- Idempotency keys of POST /v1/batches and the batch made under each.
CREATE TABLE IF NOT EXISTS batch_idempotency (
  key         TEXT PRIMARY KEY,
  batch       TEXT NOT NULL,
  fingerprint TEXT NOT NULL
) WITHOUT ROWID;

-- Paused token aliases.
CREATE TABLE IF NOT EXISTS pauses (
  alias    TEXT PRIMARY KEY,
  reason   TEXT NOT NULL,
  since_ms INTEGER NOT NULL,
  until_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Schedule entries set aside, newest last.
CREATE TABLE IF NOT EXISTS dead_letters (
  seq  INTEGER PRIMARY KEY AUTOINCREMENT,
  json TEXT NOT NULL
);

INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '1');

-- Characters made upstream, as JSON, by creation.
CREATE TABLE IF NOT EXISTS characters (
  id         TEXT PRIMARY KEY,
  json       TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS characters_by_created ON characters (created_ms, id);

-- Character names, each held by one character or by one creation under way.
CREATE TABLE IF NOT EXISTS character_names (
  name TEXT PRIMARY KEY,
  id   TEXT NOT NULL
) WITHOUT ROWID;

-- Idempotency keys of POST /v1/characters, each bound to the character it makes.
CREATE TABLE IF NOT EXISTS character_idempotency (
  key         TEXT PRIMARY KEY,
  id          TEXT NOT NULL,
  fingerprint TEXT NOT NULL
) WITHOUT ROWID;

-- Character creations under way, reserved before the upstream is paid; key and name are ''
-- for none.
CREATE TABLE IF NOT EXISTS character_reservations (
  id          TEXT PRIMARY KEY,
  key         TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  name        TEXT NOT NULL,
  started_ms  INTEGER NOT NULL
) WITHOUT ROWID;

-- Each scheduled pipeline's last run: the tick (ms) and the batch it submitted. Moved forward
-- only.
CREATE TABLE IF NOT EXISTS pipeline_runs (
  name    TEXT PRIMARY KEY,
  tick_ms INTEGER NOT NULL,
  batch   TEXT NOT NULL
) WITHOUT ROWID;

-- Webhook events (the outbox), written in the transaction of the transition that causes
-- them, their bodies frozen. A pending event is due at due_ms: its next attempt, or the end of
-- the lease while holder attempts it. A delivered or dead ('failed', 'refused') one expires
-- at expire_at_ms.
CREATE TABLE IF NOT EXISTS outbox (
  id           TEXT PRIMARY KEY,
  kind         TEXT NOT NULL,
  subject      TEXT NOT NULL,
  url          TEXT NOT NULL,
  body         TEXT NOT NULL,
  state        TEXT NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_error   TEXT,
  created_ms   INTEGER NOT NULL,
  since_ms     INTEGER NOT NULL,
  due_ms       INTEGER,
  holder       TEXT,
  ended_ms     INTEGER,
  expire_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (due_ms) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbox_dead ON outbox (ended_ms) WHERE state IN ('failed', 'refused');
CREATE INDEX IF NOT EXISTS outbox_by_subject ON outbox (subject, created_ms);
CREATE INDEX IF NOT EXISTS outbox_expiring ON outbox (expire_at_ms)
  WHERE expire_at_ms IS NOT NULL;
