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

-- Jobs waiting for a slot, by arrival.
CREATE TABLE IF NOT EXISTS wait_line (
  alias  TEXT NOT NULL,
  job_id TEXT NOT NULL,
  seq    INTEGER NOT NULL,
  PRIMARY KEY (alias, job_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS wait_line_order ON wait_line (alias, seq);

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
INSERT OR IGNORE INTO meta (key, value) VALUES ('waiting_seq', '0');
