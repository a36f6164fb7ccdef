-- Tag immutability rules, project storage quotas, tag retention policies with
-- their executions and tasks (issue 13). Rules and policies are the JSON
-- documents the service validated (Harbor's shapes).

CREATE TABLE immutable_rules (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX immutable_rules_by_project ON immutable_rules (project_id, id);

-- A project without a row has no limit (-1). Usage is not stored: it is one
-- indexed aggregate over the project's manifests, so it is exact after a crash
-- and a delete lowers it at once.
CREATE TABLE project_quotas (
    project_id  INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    hard        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- One policy per project, as Harbor (its id is the project's `retention_id`).
-- `next_run_at`: when its cron fires next (NULL: manual only); moved forward
-- with a compare-and-set, so a due policy runs once however many processes look.
CREATE TABLE retention_policies (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL UNIQUE REFERENCES projects(id) ON DELETE CASCADE,
    body        TEXT NOT NULL,
    next_run_at INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE retention_executions (
    id          INTEGER PRIMARY KEY,
    policy_id   INTEGER NOT NULL REFERENCES retention_policies(id) ON DELETE CASCADE,
    status      TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    dry_run     INTEGER NOT NULL,
    -- The job of kind `retention` on the job queue that runs it.
    job_id      INTEGER,
    start_time  INTEGER NOT NULL,
    end_time    INTEGER
);
CREATE INDEX retention_policies_due ON retention_policies (next_run_at) WHERE next_run_at IS NOT NULL;
CREATE INDEX retention_executions_by_policy ON retention_executions (policy_id, id);

CREATE TABLE retention_tasks (
    id            INTEGER PRIMARY KEY,
    execution_id  INTEGER NOT NULL REFERENCES retention_executions(id) ON DELETE CASCADE,
    repository    TEXT NOT NULL,
    status        TEXT NOT NULL,
    start_time    INTEGER NOT NULL,
    end_time      INTEGER,
    total         INTEGER NOT NULL,
    retained      INTEGER NOT NULL,
    log           TEXT NOT NULL
);
CREATE INDEX retention_tasks_by_execution ON retention_tasks (execution_id, id);
