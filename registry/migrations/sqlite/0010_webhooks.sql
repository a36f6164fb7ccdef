-- Webhook policies per project and their deliveries (issue 14). A policy is the
-- JSON document the service validated (Harbor's WebhookPolicy); a delivery is
-- one event sent to one target: the durable queue the deliverer works from,
-- and the delivery log the API shows (Harbor's executions and tasks).

CREATE TABLE webhook_policies (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (project_id, name)
);

-- `status`: Pending (waiting for `next_attempt_at`), Running, Success, Error.
-- `log`: one line per attempt (time, status code or error).
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    policy_id        INTEGER NOT NULL REFERENCES webhook_policies(id) ON DELETE CASCADE,
    event_type       TEXT NOT NULL,
    target           TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_status_code INTEGER,
    log              TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_by_policy ON webhook_deliveries (policy_id, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
