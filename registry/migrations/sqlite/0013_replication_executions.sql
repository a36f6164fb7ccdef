-- Replication executions (issue 14): one row per run of a policy, one task per
-- artifact it copies or deletes. Tasks are written when the run has listed its
-- work, before any is done, so a run resumed after a restart does only the
-- tasks that had not succeeded.

CREATE TABLE replication_executions (
    id          INTEGER PRIMARY KEY,
    policy_id   INTEGER NOT NULL,
    -- InProgress | Succeed | Failed | Stopped (Harbor's words)
    status      TEXT NOT NULL,
    status_text TEXT NOT NULL DEFAULT '',
    -- manual | scheduled | event_based
    trigger     TEXT NOT NULL,
    -- For event_based runs: the one artifact to replicate (JSON); NULL: the whole policy.
    scope       TEXT,
    job_id      INTEGER,
    start_time  INTEGER NOT NULL,
    end_time    INTEGER
);
CREATE INDEX replication_executions_by_policy ON replication_executions (policy_id, id);

CREATE TABLE replication_tasks (
    id            INTEGER PRIMARY KEY,
    execution_id  INTEGER NOT NULL REFERENCES replication_executions (id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL,
    src_resource  TEXT NOT NULL,
    dst_resource  TEXT NOT NULL,
    -- copy | deletion
    operation     TEXT NOT NULL,
    -- Pending | InProgress | Succeed | Failed | Stopped
    status        TEXT NOT NULL,
    bytes         INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    message       TEXT NOT NULL DEFAULT '',
    log           TEXT NOT NULL DEFAULT '',
    start_time    INTEGER,
    end_time      INTEGER
);
CREATE INDEX replication_tasks_by_execution ON replication_tasks (execution_id, id);

-- Scheduled policies: the next fire time, moved by compare-and-set so that one
-- process runs each due fire however many share the database.
CREATE TABLE replication_schedules (
    policy_id   INTEGER PRIMARY KEY,
    cron        TEXT NOT NULL,
    next_run_at INTEGER
);
