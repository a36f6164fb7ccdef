-- When a proxy cache project's upstream last confirmed a cached tag (a HEAD that
-- named the cached digest, or the fetch that stored it). Kept in the database, not
-- in memory, so that a restart, or another replica on the same database, serves
-- cached tags for the rest of their TTL instead of asking the upstream about every
-- tag at once. The row goes with its project.
CREATE TABLE proxy_tag_checks (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    checked_at INTEGER NOT NULL,
    PRIMARY KEY (repository, tag)
) WITHOUT ROWID;
CREATE INDEX proxy_tag_checks_project ON proxy_tag_checks(project_id);
