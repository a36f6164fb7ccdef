-- Storage lifecycle: the durable job queue (GC, retention, scan-all, scrub,
-- later replication), its schedules, and what online garbage collection needs
-- to know about blobs and manifests.

-- One row per job. Claiming is one UPDATE … RETURNING on this table, so
-- several `wharf serve` processes sharing the database run each job once.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    parameters       TEXT NOT NULL DEFAULT '{}',
    -- Harbor's words: Pending, Running, Success, Error, Stopped.
    status           TEXT NOT NULL,
    trigger          TEXT NOT NULL DEFAULT 'Manual',
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    -- Not claimed before this time (backoff after a failure).
    next_run_at      INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    stop_requested   INTEGER NOT NULL DEFAULT 0,
    -- What the run reported (JSON) and why it failed.
    result           TEXT,
    message          TEXT,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    ended_at         INTEGER,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX jobs_claimable ON jobs (status, next_run_at);
CREATE INDEX jobs_by_kind ON jobs (kind, id);

-- Log lines of a job, appended as it runs (bounded per job by the store).
CREATE TABLE job_logs (
    job_id  INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    line    TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;

-- One schedule per job kind: Harbor's 6-field cron and the parameters of the
-- jobs it enqueues. Firing moves next_run_at forward in the same transaction
-- that enqueues the job, so a due schedule fires once across processes.
CREATE TABLE job_schedules (
    kind         TEXT PRIMARY KEY,
    -- Harbor's schedule type: Hourly, Daily, Weekly, Custom, None.
    type         TEXT NOT NULL,
    cron         TEXT NOT NULL DEFAULT '',
    parameters   TEXT NOT NULL DEFAULT '{}',
    next_run_at  INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) WITHOUT ROWID;

-- Online GC. A blob is collected only when no manifest references it AND it
-- has not been used for the grace period; `deleting` marks the rows whose
-- files are being removed (phase 2 of 3), which uploads and pushes treat as
-- absent. Existing blobs count as used when they were created.
ALTER TABLE blobs ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blobs ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0;
UPDATE blobs SET last_used_at = created_at;
CREATE INDEX blobs_collectable ON blobs (deleting, last_used_at);

-- Manifests: when last pushed (a re-push of the same digest counts), so an
-- untagged manifest about to become an index's child is not collected.
ALTER TABLE manifests ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
UPDATE manifests SET last_used_at = created_at;
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);
